"""The log's state as the jobs' tick sees it, read from the log itself: what waits, what was made last, what is late.

One look (``look``) lists what the lifecycle leaves bounded and reads two
small objects:

* ``incoming/`` (one LIST page per 1,000 objects): the tail not rolled up yet,
  whose size the hourly rollup keeps to about an hour of commits plus one kept
  claim per live thread;
* ``hourly/`` (bundled and removed once a snapshot holds a whole day);
* ``snapshots/LATEST`` and the manifest it names (two GETs);
* ``daily/`` of the last ``BUNDLE_WINDOW`` days only, never the whole archive.

The scheduler's tick (board/lifecycle/due.py) looks once a minute, decides
from the look which jobs are due, and records it in the shared cache
(``record``); ``/readyz`` and the admin's log-health page read that record
(``recorded``) instead of listing the bucket per request, and judge it with
``judge``. A record that is itself old means the tick stopped (no beat, or no
worker for the jobs queue), which ``judge`` reports too.

Late means (thresholds are settings, README "Configuration"):

* rollup: the oldest event waiting in incoming/ belongs to an hour that ended
  more than UTAKATA_ROLLUP_LATE_SECONDS ago;
* snapshot: hourly segments wait that LATEST lacks, and LATEST is older than
  UTAKATA_SNAPSHOT_LATE_SECONDS (or there is none, and such a segment is that
  old): a quiet board whose LATEST holds everything is never "late";
* tick: no look recorded for UTAKATA_JOB_TICK_SECONDS x 5.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache

from board.lifecycle import keys as k
from board.lifecycle.errors import LifecycleError
from board.lifecycle.manifests import read_manifest
from board.lifecycle.rollup import closed_before, grace
from board.lifecycle.snapshot import latest
from board.lifecycle.tail import pending
from board.log import BaseLog
from board.log.layout import INCOMING

STATE_KEY = "utakata:lifecycle:state"
FANOUT_KEY = "utakata:fanout:lag"
BUNDLE_WINDOW = timedelta(days=7)
# A tick is late once this many ticks were missed: one slow look is not an outage.
MISSED_TICKS = 5


@dataclass(frozen=True)
class Made:
    """The newest object of a kind: its key, when it was written, its size in bytes and events, and the
    sha256 its manifest records (checked against the data when it was written and read back)."""

    key: str
    at: datetime
    size: int
    count: int | None = None
    sha256: str | None = None

    def age(self, now: datetime) -> float:
        return max(0.0, (now - self.at).total_seconds())


@dataclass(frozen=True)
class LogState:
    """What one look at the log saw. Times are UTC; counts are objects, not bytes."""

    looked_at: datetime
    seconds: float = 0.0
    backlog: int = 0  # incoming events not rolled up (kept claims and markers left out)
    oldest_pending: datetime | None = None  # when the oldest of them was committed
    closed_waiting: int = 0  # of them, committed before the first hour still open: the rollup's work
    unsnapshotted: int = 0  # hourly segments LATEST does not hold
    oldest_unsnapshotted: datetime | None = None
    unbundled: int = 0  # hourly segments LATEST holds, of days ended before it was made
    snapshot: Made | None = None  # the one LATEST names
    snapshot_seq: int | None = None
    snapshot_image: int | None = None  # objects in LATEST's image; None: it has none (restores replay it)
    last_rollup: Made | None = None  # the newest hourly segment still in hourly/
    last_bundle: Made | None = None  # the newest daily bundle of the last BUNDLE_WINDOW
    problems: list[str] = field(default_factory=list)

    def backlog_age(self, now: datetime) -> float | None:
        """Seconds the oldest incoming event has waited, or None when nothing waits."""
        return None if self.oldest_pending is None else max(0.0, (now - self.oldest_pending).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LogState:
        kinds = ("snapshot", "last_rollup", "last_bundle")
        made = {name: Made(**raw[name]) if raw.get(name) else None for name in kinds}
        return cls(**{**raw, **made})


def look(log: BaseLog, now: datetime | None = None) -> LogState:
    """List incoming/, hourly/ and recent daily/, read LATEST: the log's state now."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    limit = closed_before(now, grace())
    backlog, closed, oldest = 0, 0, None
    for info in pending(log.list(INCOMING)):
        backlog += 1
        oldest = info.modified if oldest is None else min(oldest, info.modified)
        if info.modified < limit:
            closed += 1

    head = latest(log)
    held = {k.parse_hourly(key) for key, _ in head.sources} if head is not None else set()
    made_at = datetime.fromisoformat(head.created) if head is not None and head.created else None
    complete_before = made_at - grace() if made_at is not None else None
    unsnapshotted, unbundled, first_new = 0, 0, None
    newest: dict[str, Any] = {}
    for info in log.list(k.HOURLY):
        slot = k.parse_hourly(info.key)
        if slot is None:
            continue
        if not k.is_manifest(info.key):
            if "rollup" not in newest or info.modified > newest["rollup"].modified:
                newest["rollup"] = info
            continue
        if slot not in held:
            unsnapshotted += 1
            first_new = info.modified if first_new is None else min(first_new, info.modified)
        elif complete_before is not None and slot[0].replace(hour=0) + k.DAY <= complete_before:
            unbundled += 1

    start = k.daily_prefix((now - BUNDLE_WINDOW).date())
    for info in log.list(k.DAILY, start_after=start):
        newer = "bundle" not in newest or info.modified > newest["bundle"].modified
        if k.parse_daily(info.key) and not k.is_manifest(info.key) and newer:
            newest["bundle"] = info

    def made(name: str) -> Made | None:
        info = newest.get(name)
        if info is None:
            return None
        try:
            manifest = read_manifest(log, k.manifest_key(info.key))
        except LifecycleError:  # written a moment ago, its manifest not yet: the next look has it
            return Made(info.key, info.modified, info.size)
        return Made(info.key, info.modified, info.size, manifest.count, manifest.sha256)

    snapshot = None
    if head is not None:
        snapshot = Made(head.key, made_at or now, head.stats.size, head.count, head.sha256)
    return LogState(
        looked_at=now,
        seconds=time.monotonic() - started,
        backlog=backlog,
        oldest_pending=oldest,
        closed_waiting=closed,
        unsnapshotted=unsnapshotted,
        oldest_unsnapshotted=first_new,
        unbundled=unbundled,
        snapshot=snapshot,
        snapshot_seq=head.seq if head is not None else None,
        snapshot_image=head.image["objects"] if head is not None and head.image else None,
        last_rollup=made("rollup"),
        last_bundle=made("bundle"),
    )


# --- the record the tick leaves for the probes and the admin ----------------------------


def record(state: LogState) -> None:
    """Keep the look in the shared cache for /readyz and the admin page (no expiry: its age is judged)."""
    cache.set(STATE_KEY, state.to_dict(), None)


def recorded() -> LogState | None:
    """The last look the tick recorded, or None (no tick yet, or the cache lost it)."""
    raw = cache.get(STATE_KEY)
    return LogState.from_dict(raw) if raw else None


_noted = [0.0]


def record_fanout_lag(seconds: float, now: float | None = None) -> None:
    """Note how long the latest applied event took from its commit to the store (best effort).

    At most once a second per process: one cache write per post would be a
    write the fan-out does not need.
    """
    now = now or time.time()
    if now - _noted[0] < 1.0:
        return
    _noted[0] = now
    with contextlib.suppress(Exception):  # a lost note must never fail a fan-out
        cache.set(FANOUT_KEY, {"seconds": seconds, "at": now}, None)


def fanout_lag() -> tuple[float, float] | None:
    """(seconds from commit to store of the latest applied event, when it was applied as a Unix time), or None."""
    raw = cache.get(FANOUT_KEY)
    return (raw["seconds"], raw["at"]) if raw else None


# --- judgements -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One judgement: name ("rollup", "snapshot", "tick"), whether it is late, and why in words."""

    name: str
    late: bool
    detail: str


def rollup_late(oldest_pending: datetime | None, now: datetime) -> bool:
    """The oldest waiting event's hour ended more than UTAKATA_ROLLUP_LATE_SECONDS ago."""
    if oldest_pending is None:
        return False
    hour_end = oldest_pending.replace(minute=0, second=0, microsecond=0) + k.HOUR
    return (now - hour_end).total_seconds() > settings.ROLLUP_LATE_SECONDS


def snapshot_late(state: LogState, now: datetime) -> bool:
    """Segments wait that LATEST lacks, and LATEST (or, without one, the oldest of them) is older than the threshold."""
    if state.oldest_unsnapshotted is None:
        return False
    since = state.snapshot.at if state.snapshot is not None else state.oldest_unsnapshotted
    return (now - since).total_seconds() > settings.SNAPSHOT_LATE_SECONDS


def tick_allowance() -> timedelta:
    return timedelta(seconds=settings.JOB_TICK_SECONDS * MISSED_TICKS)


def judge(state: LogState | None, now: datetime | None = None) -> list[Finding]:
    """Is the rollup late, the snapshot late, the tick itself late? One Finding each."""
    now = now or datetime.now(UTC)
    if state is None:
        return [Finding("tick", True, "no look at the log recorded yet: is beat running, with a jobs worker?")]
    findings = []
    tick_age = (now - state.looked_at).total_seconds()
    findings.append(
        Finding("tick", tick_age > tick_allowance().total_seconds(), f"last look at the log {tick_age:.0f}s ago")
    )
    age = state.backlog_age(now)
    if age is None:
        findings.append(Finding("rollup", False, "nothing waits in incoming/"))
    else:
        late = rollup_late(state.oldest_pending, now)
        findings.append(
            Finding("rollup", late, f"{state.backlog} event(s) wait in incoming/, the oldest for {age:.0f}s")
        )
    if state.oldest_unsnapshotted is None:
        findings.append(Finding("snapshot", False, f"LATEST ({state.snapshot_seq}) holds every hourly segment"))
    else:
        waited = (now - state.oldest_unsnapshotted).total_seconds()
        late = snapshot_late(state, now)
        findings.append(
            Finding(
                "snapshot",
                late,
                f"{state.unsnapshotted} hourly segment(s) not in a snapshot, the oldest for {waited / 3600:.1f}h",
            )
        )
    return findings
