"""Which jobs are due, decided from the log itself, and started at most once at a time.

Beat only ticks (every UTAKATA_JOB_TICK_SECONDS, and once as it starts); the
tick looks at the log (logstate.look) and starts what the log says is due:

* the rollup, when an incoming event was committed before the first hour
  still open (closed hour plus the grace period);
* the snapshot (and with it bundling), when hourly segments wait that LATEST
  does not hold and LATEST is older than UTAKATA_SNAPSHOT_INTERVAL_HOURS (or
  there is no LATEST yet), or when hourly segments LATEST holds of finished
  days are still not bundled (a bundling a crash cut short).

A beat that was restarted, replaced or never ran before therefore starts an
overdue snapshot on its first tick, not an interval after it started. Tiering
is the bucket's lifecycle rules on the daily bundles (``manage.py lifecycle``),
so it follows bundling without a job of its own.

Each job has a lease (board/lib/lease.py): the tick starts a job only if it
takes the job's lease, and hands the token to the task, which holds the lease
while it runs and renews it as it reports progress. Two beats, two ticks or a
redelivered task at once therefore start one run. A run that fails keeps the
lease for UTAKATA_JOB_RETRY_SECONDS, so a job that cannot succeed (a log that
is down, an object it cannot read) is tried again at that pace, not every
tick; so does a run that found nothing to do, should the tick's judgement and
the job's ever disagree.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings

from board.lib.lease import Lease
from board.lifecycle.state import LogState

logger = logging.getLogger(__name__)

ROLLUP = "rollup"
SNAPSHOT = "snapshot"
JOBS = (ROLLUP, SNAPSHOT)


def lease(job: str) -> Lease:
    """The lease of a job (one per job name, shared by every beat and worker)."""
    return Lease(f"job:{job}", settings.JOB_LEASE_SECONDS)


def due(state: LogState, now: datetime | None = None) -> dict[str, str]:
    """The jobs due by this look at the log, each with why, in words."""
    now = now or state.looked_at
    found = {}
    if state.closed_waiting:
        found[ROLLUP] = f"{state.closed_waiting} incoming event(s) of closed hours"
    interval = timedelta(hours=settings.SNAPSHOT_INTERVAL_HOURS)
    if state.unsnapshotted:
        if state.snapshot is None:
            found[SNAPSHOT] = f"no snapshot yet, {state.unsnapshotted} hourly segment(s)"
        elif now - state.snapshot.at >= interval:
            hours = (now - state.snapshot.at).total_seconds() / 3600
            found[SNAPSHOT] = f"LATEST is {hours:.1f}h old, {state.unsnapshotted} hourly segment(s) not in it"
    if state.unbundled and SNAPSHOT not in found:
        found[SNAPSHOT] = f"{state.unbundled} hourly segment(s) of finished days wait to be bundled"
    return found


def start_due(state: LogState, send: Callable[[str, str], None], now: datetime | None = None) -> dict[str, str]:
    """Start each due job whose lease this tick takes: send(job, token). Returns what was started and why.

    A job whose lease is held is running (or resting after a failure): not started again.
    """
    started = {}
    for job, why in due(state, now or datetime.now(UTC)).items():
        token = lease(job).take()
        if token is None:
            logger.info("%s is due (%s) but already running or resting after a failure", job, why)
            continue
        try:
            send(job, token)
        except Exception:
            lease(job).release(token)
            raise
        logger.info("starting %s: %s", job, why)
        started[job] = why
    return started


class Held:
    """A job's lease while its run holds it: renew it as work goes on; say if the run failed."""

    def __init__(self, job: str, token: str) -> None:
        self.lease = lease(job)
        self.token = token
        self.ok = True
        self.resting = False

    def renew(self) -> None:
        self.lease.renew(self.token)

    def failed(self) -> None:
        """The run ended without doing all its work: keep the lease for the retry pause."""
        self.ok = False

    def rest(self) -> None:
        """The run found nothing to do although the tick judged it due: keep the lease for the
        retry pause too, so that a judgement the job does not share starts it at that pace,
        not on every tick."""
        self.resting = True


@contextlib.contextmanager
def holding(job: str, token: str | None) -> Iterator[Held | None]:
    """Hold job's lease for one run; yields None when another run holds it (the caller skips).

    token is the tick's (None for a run started by hand or by an older beat).
    The run takes the lease over under a token of its own, so a second copy
    of the same task (redelivered while the first still runs) finds it held
    and skips. A run whose tick's lease lapsed while it waited in the queue
    takes the lease anew.
    """
    owner = lease(job)
    run = uuid.uuid4().hex
    try:
        ours = (token is not None and owner.hand_over(token, run)) or owner.take(run) is not None
    except Exception as exc:  # the cache is down: run unguarded, the jobs are safe to run twice
        logger.warning("%s: the lease cannot be taken (%s); running without it", job, exc)
        ours = True
    if not ours:
        yield None
        return
    held = Held(job, run)
    try:
        yield held
    except BaseException:
        owner.release(run, hold=settings.JOB_RETRY_SECONDS)
        raise
    owner.release(run, hold=0 if held.ok and not held.resting else settings.JOB_RETRY_SECONDS)
