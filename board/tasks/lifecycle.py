"""Background jobs: the tick that starts what the log says is due (rollup, snapshot), and the
periodic ones on beat's clock (purge sweeps, reconcile, retiring old store generations).

Thin wrappers: the work is in board.lifecycle, where it is tested directly.
Each job is idempotent and safe to run twice at once, which is what acks_late
and a redelivery after a lost worker need; rollup and snapshot also hold a
lease (board/lifecycle/due.py), so that two at once is rare, not the rule.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from celery import shared_task

from board.lifecycle import due
from board.lifecycle import state as logstate
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.progress import Progress
from board.lifecycle.purge import Busy, sweep_exclusive
from board.lifecycle.reconcile import reconcile
from board.lifecycle.rollup import rollup
from board.log import LogUnavailable, get_log
from board.ops import metrics
from board.store import StoreUnavailable, get_store

logger = logging.getLogger(__name__)

RETRY = {
    "acks_late": True,
    "autoretry_for": (LogUnavailable, StoreUnavailable),
    "retry_backoff": 30,
    "retry_backoff_max": 900,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="utakata.lifecycle.due", ignore_result=True)
def run_due() -> None:
    """Look at the log, record what it saw for the probes, start the jobs it says are due."""
    state = logstate.look(get_log())
    logstate.record(state)
    metrics.backlog_seen(state.backlog, state.backlog_age(state.looked_at))
    due.start_due(state, send=lambda job, token: JOBS[job].apply_async(kwargs={"lease": token}))


@shared_task(name="utakata.lifecycle.rollup", **RETRY)
def rollup_closed_hours(lease: str | None = None) -> None:
    """Roll up every closed hour; a failed hour is logged and tried again after the retry pause."""
    with due.holding(due.ROLLUP, lease) as held:
        if held is None:
            logger.info("rollup skipped: another run holds its lease")
            return
        with measured("rollup") as outcome:
            report = rollup(get_log(), get_store(), progress=watched("rollup", held))
            for result in report.hours:
                (logger.error if result.error else logger.info)("rollup %s", result.line())
            for key, problem in report.skipped:
                logger.error("rollup skipped %s: %s", key, problem)
            logger.info("%s", report.summary())
            outcome["bytes"] = sum(result.bytes for result in report.hours)
            if report.failed or report.skipped:
                held.failed()
                outcome["ok"] = False
            elif not report.hours:
                held.rest()


@shared_task(name="utakata.lifecycle.snapshot", **RETRY)
def snapshot(lease: str | None = None) -> None:
    """Make the next snapshot, move LATEST, prune, bundle the held days."""
    with due.holding(due.SNAPSHOT, lease) as held:
        if held is None:
            logger.info("snapshot skipped: another run holds its lease")
            return
        with measured("snapshot") as outcome:
            made, bundles = snapshot_and_bundle(get_log(), progress=watched("snapshot", held))
            for line in made.lines() + bundles.lines():
                logger.info("%s", line)
            if made.outcome == "written":
                outcome["bytes"] = made.size
            elif not bundles.written and not bundles.removed:
                held.rest()


@contextlib.contextmanager
def measured(job: str) -> Iterator[dict]:
    """Publish a run's duration, outcome and output size (set "ok" and "bytes" in the dict yielded)."""
    started = time.monotonic()
    outcome: dict = {"ok": True, "bytes": None}
    try:
        yield outcome
    except Exception as exc:
        metrics.count_error("store" if isinstance(exc, StoreUnavailable) else "log", exc)
        metrics.job_done(job, time.monotonic() - started, ok=False)
        raise
    metrics.job_done(job, time.monotonic() - started, outcome["ok"], outcome["bytes"])


def watched(job: str, held: due.Held | None = None) -> Progress:
    """Progress said in the worker's log every few seconds, renewing the job's lease each time."""
    return Progress(job, beat=(lambda _: held.renew()) if held is not None else None)


JOBS = {due.ROLLUP: rollup_closed_hours, due.SNAPSHOT: snapshot}


@shared_task(name="utakata.lifecycle.purge", **RETRY)
def purge_sweep() -> None:
    """Rewrite purged text out of the log's objects; hourly, and at once after each purge request.

    Idempotent and resumable: each object's steps are found done by a re-run
    (board/lifecycle/purge.py). A sweep already running does this one's work:
    this one is dropped, not retried.
    """
    try:
        report = sweep_exclusive(get_log())
    except Busy as exc:
        logger.info("purge sweep skipped: %s", exc)
        return
    for line in report.lines():
        (logger.warning if line.startswith(("pending", "error")) else logger.info)("purge: %s", line)


@shared_task(name="utakata.lifecycle.reconcile", **RETRY)
def reconcile_fanout() -> None:
    """Apply committed events whose fan-out was lost."""
    with measured("reconcile"):
        report = reconcile(get_log(), get_store(), progress=watched("reconcile"))
    metrics.RECONCILE_REAPPLIED.inc(len(report.repaired))
    (logger.warning if report.repaired else logger.info)("%s", report.line())


@shared_task(name="utakata.store.retire", **RETRY)
def retire_generations() -> None:
    """Remove the store's generations older than the current one (after a rebuild or a flush)."""
    removed = get_store().retire()
    if removed:
        logger.info("store: removed generation(s) %s", ", ".join(map(str, removed)))
