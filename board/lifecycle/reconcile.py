"""Reconcile: apply committed events whose fan-out never happened (a lost Celery message).

Every pending event in incoming/ older than a minimum age (its fan-out had
its chance) is read and applied again; kept claims that a rollup already
marked rolled up are not pending (tail.pending). Applying is idempotent and, for an event
already applied, writes nothing: ``update()`` sees that the join changes no
object. An event found applied is remembered in the cache (Redis) for longer
than it can stay in incoming/, so each event is read by reconcile about once,
however often reconcile runs; after a Redis flush the tail is simply checked
once more. Events older than an hour plus the grace are rolled up anyway,
and the rollup applies what it rolls up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from board.events import Event
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.tail import pending, read_objects
from board.log import BaseLog
from board.log.layout import INCOMING
from board.readmodel import projection
from board.store import BaseStore

logger = logging.getLogger(__name__)

MARK_PREFIX = "utakata:reconciled:"


@dataclass
class ReconcileReport:
    listed: int = 0
    young: int = 0
    known: int = 0
    checked: int = 0
    repaired: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"reconcile: {self.listed} incoming object(s), {self.young} too young, {self.known} checked before, "
            f"{self.checked} checked, {len(self.repaired)} applied that fan-out had missed, in {self.seconds:.1f}s"
        )


class _Counting:
    """A store seen through a wrapper that counts writes: did applying an event change anything?"""

    def __init__(self, store: BaseStore) -> None:
        self._store = store
        self.writes = 0

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def store(self, bucket: str, key: str, value: bytes, context=None) -> None:
        self.writes += 1
        self._store.store(bucket, key, value, context)

    def update(self, bucket, key, mutate, merge, attempts: int = 20):
        # The generic read-modify-write, run against this wrapper so that its writes are counted.
        return BaseStore.update(self, bucket, key, mutate, merge, attempts)  # type: ignore[arg-type]


def apply_counting(store: BaseStore, event: Event) -> bool:
    """Apply one event; True if the store changed (the fan-out had not happened)."""
    counting = _Counting(store)
    projection.apply(counting, event)  # type: ignore[arg-type]
    return counting.writes > 0


def reconcile(
    log: BaseLog,
    store: BaseStore,
    now: datetime | None = None,
    min_age: timedelta | None = None,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Check every incoming event older than min_age; apply the ones the store lacks."""
    started = time.monotonic()
    progress = progress or quiet("reconcile")
    now = now or datetime.now(UTC)
    min_age = timedelta(seconds=settings.RECONCILE_MIN_AGE_SECONDS) if min_age is None else min_age
    report = ReconcileReport()
    old = []
    for info in pending(log.list(INCOMING)):
        report.listed += 1
        if info.modified > now - min_age:
            report.young += 1
        else:
            old.append(info)
    marks = cache.get_many([MARK_PREFIX + info.key for info in old]) if old else {}
    todo = [info for info in old if MARK_PREFIX + info.key not in marks]
    report.known = len(old) - len(todo)
    checked = []
    progress.phase(f"checking {len(todo)} of {report.listed} incoming object(s)")
    for item in read_objects(log, todo):
        progress.add("event(s) checked")
        if item.event is None:
            if item.problem != "gone":
                report.skipped.append((item.key, item.problem))
            continue
        report.checked += 1
        if apply_counting(store, item.event):
            report.repaired.append(item.key)
            extra = {"event_id": item.event.id, "board": item.event.board}
            logger.warning("reconcile: applied %s (%s), its fan-out was lost", item.key, item.event.id, extra=extra)
        checked.append(item.key)
    if checked:
        cache.set_many({MARK_PREFIX + key: 1 for key in checked}, timeout=mark_ttl())
    report.seconds = time.monotonic() - started
    return report


def mark_ttl() -> int:
    """Seconds to remember a checked event: longer than it can stay in incoming/ before rollup."""
    return 2 * 3600 + settings.ROLLUP_GRACE_SECONDS + settings.RECONCILE_INTERVAL_SECONDS
