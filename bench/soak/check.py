"""After the soak: every post the board acknowledged is in the log and on the pages exactly once; the figures.

The log is read straight from the S3 endpoint (not through the fault proxy):
every post under incoming/ (nothing is rolled up during a soak). The pages
are the dat files a 2ch browser downloads, fetched from gunicorn by a fresh
client. A post is found by the tag in its body (see load.py).

What counts as a failure, each listed by tag:

- an acknowledged post missing from the log or from its thread's dat, or
  found at another thread or number than the one it was acknowledged as;
- any post (acknowledged or not) twice in the log or twice on the pages;
- a post in the log but not on the pages, or on the pages but not in the log;
- a post whose last answer was 「保存されていません」 (not saved), found in the log.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests

from bench.soak.faults import Window
from bench.soak.load import BOARD, TAG_RE, Ledger, Sample
from board.events import EventType
from board.lifecycle.tail import read_tail
from board.log import BaseLog
from board.log.layout import parse_post_key

Places = dict[str, list[tuple[str, int]]]  # tag -> every (thread, number) it was found at


def in_log(log: BaseLog) -> Places:
    """Where each tagged post is in the log's incoming posts."""
    found: Places = defaultdict(list)
    for item in read_tail(log):
        event = item.event
        if event is None or event.type not in (EventType.THREAD_CREATED, EventType.POST_CREATED):
            continue
        if event.board != BOARD or parse_post_key(item.key) is None:
            continue
        for tag in TAG_RE.findall(event.payload.get("body", "")):
            found[tag].append((event.thread, event.number))
    return found


def on_pages(base_url: str, threads: set[str]) -> Places:
    """Where each tagged post is on the threads' dat files (line n is res n)."""
    found: Places = defaultdict(list)
    session = requests.Session()
    for thread in sorted(threads):
        response = session.get(f"{base_url}/{BOARD}/dat/{thread}.dat", timeout=60)
        response.raise_for_status()
        for number, line in enumerate(response.content.decode("cp932").splitlines(), start=1):
            fields = line.split("<>")
            for tag in TAG_RE.findall(fields[3] if len(fields) > 3 else ""):
                found[tag].append((thread, number))
    return found


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    acknowledged: int = 0
    unacknowledged_written: int = 0  # given up or never answered yes, yet written (allowed: it is once)

    def add(self, what: str, tags: list[str]) -> None:
        if tags:
            shown = ", ".join(sorted(tags)[:10]) + (" …" if len(tags) > 10 else "")
            self.problems.append(f"{what}: {len(tags)} ({shown})")


def compare(ledger: Ledger, log: Places, pages: Places) -> Findings:
    """Hold the ledger's answers against the log and the pages."""
    findings = Findings()
    acked = [s for s in ledger.submissions if s.acked is not None]
    findings.acknowledged = len(acked)
    findings.add("acknowledged, not in the log", [s.tag for s in acked if not log.get(s.tag)])
    findings.add("acknowledged, not on the pages", [s.tag for s in acked if not pages.get(s.tag)])
    findings.add(
        "acknowledged as another thread or number than the log's",
        [s.tag for s in acked if log.get(s.tag) and log[s.tag][0] != s.acked],
    )
    findings.add("twice or more in the log", [tag for tag, at in log.items() if len(at) > 1])
    findings.add("twice or more on the pages", [tag for tag, at in pages.items() if len(at) > 1])
    findings.add("in the log, not on the pages", [tag for tag in log if tag not in pages])
    findings.add("on the pages, not in the log", [tag for tag in pages if tag not in log])
    findings.add(
        "answered 'not saved' (保存されていません) last, yet saved",
        [s.tag for s in ledger.submissions if s.acked is None and s.answers[-1:] == ["not saved"] and s.tag in log],
    )
    findings.unacknowledged_written = sum(1 for s in ledger.submissions if s.acked is None and s.tag in log)
    return findings


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(ledger: Ledger, windows: list[Window], seconds: float) -> list[str]:
    """The run's figures, one line each: rates, latencies, refusals by reason, time to refusal per fault."""
    posts = [s for s in ledger.samples if s.kind == "post"]
    reads = [s for s in ledger.samples if s.kind == "read"]
    ok_posts = [s.seconds for s in posts if s.outcome == "ok"]
    ok_reads = [s.seconds for s in reads if s.outcome == "ok"]
    lines = [
        f"posts: {len(ok_posts) / seconds:.1f} acknowledged/s ({len(ok_posts)} in {seconds:.0f} s, "
        f"{len(posts)} sent counting resends)",
        f"reads: {len(ok_reads) / seconds:.1f}/s ({len(ok_reads)} answered 200)",
        f"post latency (acknowledged): p50 {_ms(ok_posts, 0.5)}, p99 {_ms(ok_posts, 0.99)}",
        f"read latency (200): p50 {_ms(ok_reads, 0.5)}, p99 {_ms(ok_reads, 0.99)}",
        "post refusals by reason: " + _counts(s.outcome for s in posts if s.outcome != "ok"),
        "read failures by reason: " + _counts(s.outcome for s in reads if s.outcome != "ok"),
    ]
    for window in windows:
        during = [s for s in posts if window.start <= s.start < window.end]
        refused = [s.seconds for s in during if s.outcome != "ok"]
        reads_during = [s for s in reads if window.start <= s.start < window.end]
        lines.append(
            f"during {window.name} ({window.end - window.start:.0f} s from t={window.start:.0f} s): "
            f"{sum(1 for s in during if s.outcome == 'ok')} posts acknowledged, {len(refused)} refused "
            f"({_counts(s.outcome for s in during if s.outcome != 'ok')}), time to refusal p50 "
            f"{_s(refused, 0.5)} max {_s(refused, 1.0)}; reads {_rate_ok(reads_during)}"
        )
    return lines


def _rate_ok(samples: list[Sample]) -> str:
    ok = [s.seconds for s in samples if s.outcome == "ok"]
    return f"{len(ok)} ok of {len(samples)}, p99 {_ms(ok, 0.99)}"


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f} ms" if values else "-"


def _s(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.1f} s" if values else "-"


def _counts(outcomes) -> str:
    counted = Counter(outcomes)
    return ", ".join(f"{name} {n}" for name, n in counted.most_common()) or "none"
