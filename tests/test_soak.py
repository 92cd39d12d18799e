"""The load-and-faults run (bench/soak): its verdict on the posts, and a short run of it.

The short run is the CI version of ``make soak``: the same faults, each
shorter, under a lighter load; it fails on any acknowledged post lost or any
post written twice. The verdict's logic is tested on its own first, so that a
run that passes is known to have been able to fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak.check import compare
from bench.soak.faults import Plan
from bench.soak.load import Ledger, Submission

ROOT = Path(__file__).resolve().parent.parent


def ledger_of(*submissions: Submission) -> Ledger:
    ledger = Ledger()
    for submission in submissions:
        ledger.submitted(submission)
    return ledger


def acked(tag: str, thread: str = "100", number: int = 2) -> Submission:
    return Submission(tag, thread, ["ok"], (thread, number))


def test_the_verdict_passes_posts_found_once_where_they_were_acknowledged():
    findings = compare(ledger_of(acked("soak-0-1")), {"soak-0-1": [("100", 2)]}, {"soak-0-1": [("100", 2)]})
    assert findings.problems == [] and findings.acknowledged == 1


def test_the_verdict_names_an_acknowledged_post_missing_from_the_log():
    findings = compare(ledger_of(acked("soak-0-1")), {}, {})
    assert any(p.startswith("acknowledged, not in the log: 1 (soak-0-1)") for p in findings.problems)


def test_the_verdict_names_a_post_written_twice_even_if_never_acknowledged():
    twice = [("100", 2), ("100", 3)]
    findings = compare(ledger_of(Submission("soak-0-1", "100", ["not confirmed"])), {"soak-0-1": twice}, {})
    assert any(p.startswith("twice or more in the log: 1") for p in findings.problems)


def test_the_verdict_names_a_post_acknowledged_as_another_number_than_the_log_gave_it():
    findings = compare(ledger_of(acked("soak-0-1")), {"soak-0-1": [("100", 3)]}, {"soak-0-1": [("100", 3)]})
    assert findings.problems == ["acknowledged as another thread or number than the log's: 1 (soak-0-1)"]


def test_the_verdict_names_a_post_refused_as_not_saved_that_was_saved():
    refused = Submission("soak-0-1", "100", ["not saved"])
    findings = compare(ledger_of(refused), {"soak-0-1": [("100", 2)]}, {"soak-0-1": [("100", 2)]})
    assert findings.problems == ["answered 'not saved' (保存されていません) last, yet saved: 1 (soak-0-1)"]


def test_a_plan_whose_outage_does_not_fit_in_the_run_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        Plan(duration=60, outage=30, redis_down=5).check()


@pytest.mark.slow
def test_a_short_soak_loses_no_acknowledged_post_and_writes_none_twice():
    argv = ["--duration", "75", "--outage", "8", "--redis-down", "3", "--posters", "3", "--readers", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", *argv], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    assert "all in the log and on the pages once" in done.stdout
