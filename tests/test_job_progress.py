"""Long jobs say how far they are while they run, and sum up when they end (board/lifecycle/progress.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import redis
from django.core.management import call_command

from board.lifecycle import due
from board.lifecycle.progress import Progress
from board.lifecycle.reconcile import reconcile
from board.lifecycle.rollup import rollup
from board.log import get_log
from board.store import get_store
from tests.helpers import apply_pending
from tests.lifecycle_helpers import history


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_progress_says_a_line_once_its_interval_passed_and_beats_with_it():
    said, beats = [], []
    progress = Progress("rollup", say=said.append, every=0, beat=beats.append)
    progress.add("incoming object(s) read", 3)
    assert said == ["rollup: 3 incoming object(s) read (0s)"] and beats == [progress]


def test_progress_keeps_quiet_between_its_intervals():
    said: list[str] = []
    progress = Progress("rollup", say=said.append, every=3600)
    progress.add("incoming object(s) read", 3)
    assert said == []


def test_the_rollup_says_each_phase_and_ends_with_a_summary():
    history(hours=2)
    output = run("rollup")
    assert "rollup: reading incoming/" in output
    assert "rollup: rolling up 2026-11-30T09 (1 of 2 hours)" in output
    assert "rollup: 2 hour(s) rolled up, 0 failed, 12 event(s) written, 0 object(s) skipped" in output


def test_the_snapshot_says_each_phase_and_ends_with_a_summary():
    history(hours=1)
    rollup(get_log(), get_store())
    output = run("snapshot")
    assert "snapshot: writing snapshot 1 from 1 input(s)" in output
    assert "snapshot: reading it back" in output
    assert "bundling: 1 daily part(s) written in" in output


def test_verifylog_says_each_phase():
    history(hours=1)
    apply_pending()
    output = run("verifylog")
    assert "verifylog: replaying the log into a scratch store" in output
    assert "verifylog: comparing the store with it" in output


def test_reconcile_counts_the_events_it_checks():
    history(hours=1)
    said: list[str] = []
    report = reconcile(
        get_log(), get_store(), now=datetime.now(UTC) + timedelta(hours=1), progress=Progress("r", say=said.append)
    )
    assert said == ["r: checking 7 of 7 incoming object(s) (0s)"]
    assert report.checked == 7 and "in 0." in report.line()


def test_a_jobs_progress_renews_its_lease(settings, fresh_redis):
    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": fresh_redis}}
    settings.JOB_LEASE_SECONDS = 600
    token = due.lease(due.ROLLUP).take()
    client = redis.Redis.from_url(fresh_redis)
    key = next(iter(client.scan_iter("*lease:job:rollup")))
    client.expire(key, 5)
    held = due.Held(due.ROLLUP, token)
    Progress("rollup", say=lambda line: None, every=0, beat=lambda _: held.renew()).add("event(s) read")
    assert client.ttl(key) > 500
