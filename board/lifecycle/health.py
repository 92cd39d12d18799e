"""The log's health in figures for people: what the log-health page and ``manage.py loghealth`` show.

Two kinds of figure, so that a page view stays cheap whatever the size of the bucket:

* **Counted by a job and kept** (``census``, the Celery task ``utakata.health.census`` every
  ``UTAKATA_HEALTH_CENSUS_SECONDS``): one listing of the whole log gives the bytes and objects per
  storage class, the incoming tail (events waiting for the rollup, the oldest one's age), the fan-out
  lag (the oldest post committed but not in the store yet: one store read per thread with posts
  waiting), posts per hour (from the hourly manifests, each read once, and the tail's claims) and a
  sample of the backlog. The result is one small object in the store (``meta/health.census``),
  rebuilt from the log by the next run if the store loses it.
* **Read live** (``summary``): the kept census and the last verifylog's result (two store reads),
  ``snapshots/LATEST`` and its manifest, and the newest hourly and daily manifests, found by listing
  today's (then the previous days') ``hourly/YYYY/MM/DD/`` and this (then last) month's
  ``daily/YYYY/MM/`` only: a handful of requests, never a listing of the bucket.

"Verified" means what the writers guarantee: a manifest is written only after its data was read back
whole and matched its sha256, size and count (segments.upload, snapshot.make_snapshot); the page adds
that the data is still there with the manifest's size (one listing of its key), not a fresh read of
gigabytes per view.

Late: the rollup is late when the oldest event waiting in incoming/ belongs to an hour that ended
more than ``UTAKATA_ROLLUP_LATE_SECONDS`` ago; the snapshot is late when LATEST is older than
``UTAKATA_SNAPSHOT_LATE_SECONDS`` (or there is none while hourly segments older than that exist).
A census older than three intervals is itself reported as stale: a stalled counter never shows
old figures as current.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from board.events import EventType
from board.lifecycle import keys as k
from board.lifecycle.segments import Manifest, read_manifest
from board.lifecycle.snapshot import latest
from board.lifecycle.tail import pending
from board.log import BaseLog, ObjectInfo
from board.log.layout import INCOMING, parse_post_key
from board.readmodel import queries
from board.store import BaseStore

if TYPE_CHECKING:  # verify.py pulls in the whole restore machinery; only its report's shape is needed here
    from board.lifecycle.verify import VerifyReport

CENSUS = ("meta", "health.census")
VERIFIED = ("meta", "health.verify")
COLD = frozenset({"GLACIER", "DEEP_ARCHIVE"})
POSTS = (EventType.THREAD_CREATED, EventType.POST_CREATED)
HOURLY_LOOKBACK_DAYS = 3
DAILY_LOOKBACK_MONTHS = 2
DRIFT_LINES = 20


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# --- kept records ----------------------------------------------------------------------------------


def _newest(values: list[bytes]) -> bytes:
    """Siblings of a kept record (two jobs at once): the one counted last wins; both came from the log."""
    return max(values, key=lambda value: json.loads(value).get("at", ""))


def _keep(store: BaseStore, where: tuple[str, str], record: dict[str, Any]) -> None:
    data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    store.update(*where, lambda current: _newest([current, data]) if current else data, _newest)


def _kept(store: BaseStore, where: tuple[str, str]) -> dict[str, Any] | None:
    fetched = store.fetch(*where)
    return json.loads(_newest(list(fetched.values))) if fetched is not None and fetched.values else None


def record_verification(store: BaseStore, report: VerifyReport, repaired: bool, now: datetime | None = None) -> None:
    """Keep what a verifylog found: the drift count and its first lines, for the page."""
    lines = [f"{d.where}: {d.what}" for d in report.drift[:DRIFT_LINES]]
    record = {
        "at": _iso(now or datetime.now(UTC)),
        "events": report.events,
        "objects": report.objects,
        "drift": len(report.drift),
        "lines": lines,
        "repaired": repaired and bool(report.drift),
        "seconds": round(report.seconds, 1),
    }
    _keep(store, VERIFIED, record)


# --- the census: counted by a job, kept ------------------------------------------------------------


def census(log: BaseLog, store: BaseStore, now: datetime | None = None) -> dict[str, Any]:
    """List the whole log once, count what the page charts, keep the result in the store and return it."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    before = _kept(store, CENSUS) or {}
    classes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    incoming: list[ObjectInfo] = []
    hourly: list[ObjectInfo] = []
    for info in log.list(""):
        classes[info.storage_class][0] += 1
        classes[info.storage_class][1] += info.size
        if info.key.startswith(INCOMING):
            incoming.append(info)
        elif k.is_manifest(info.key) and k.parse_hourly(info.key) is not None:
            hourly.append(info)
    waiting = list(pending(incoming))
    oldest = min((info.modified for info in waiting), default=None)
    parts = _hourly_posts(log, hourly, before.get("parts", {}))
    days = timedelta(days=settings.HEALTH_DAYS)
    record = {
        "at": _iso(now),
        "classes": {name: {"objects": n, "bytes": size} for name, (n, size) in sorted(classes.items())},
        "waiting": len(waiting),
        "oldest": _iso(oldest) if oldest else None,
        "lag": _fanout_lag(store, waiting, now),
        "oldest_hourly": _iso(min(info.modified for info in hourly)) if hourly else None,
        "parts": parts,
        "posts": _posts_per_hour(before.get("posts", {}), parts, waiting, now - days),
        "backlog": _backlog(before.get("backlog", []), now, len(waiting), oldest, now - days),
    }
    record["seconds"] = round(time.monotonic() - started, 2)
    _keep(store, CENSUS, record)
    return record


def _hourly_posts(log: BaseLog, manifests: list[ObjectInfo], known: dict[str, list]) -> dict[str, list]:
    """{manifest key: [hour, posts]} of the hourly manifests listed; each is read only the first time seen."""
    found = {}
    for info in manifests:
        if info.key in known:
            found[info.key] = known[info.key]
            continue
        manifest = read_manifest(log, info.key)
        hour, _ = k.parse_hourly(info.key) or (None, 0)
        assert hour is not None
        found[info.key] = [_iso(hour), sum(manifest.stats.types.get(kind, 0) for kind in POSTS)]
    return found


def _posts_per_hour(
    before: dict[str, int], parts: dict[str, list], waiting: list[ObjectInfo], since: datetime
) -> dict[str, int]:
    """Posts per UTC hour: the hourly parts listed plus the claims still waiting (by commit time).

    A post is never removed from the log (a purge keeps its event), so an hour's count only grows:
    the larger of the kept and the new count is right even after its hourly parts were bundled away.
    """
    counted: dict[str, int] = defaultdict(int)
    for hour, posts in parts.values():
        counted[hour] += posts
    for info in waiting:
        found = parse_post_key(info.key)
        if found is not None and not found.marker:
            counted[_iso(info.modified.replace(minute=0, second=0, microsecond=0))] += 1
    merged = dict(before)
    for hour, posts in counted.items():
        merged[hour] = max(merged.get(hour, 0), posts)
    return {hour: n for hour, n in sorted(merged.items()) if datetime.fromisoformat(hour) >= since}


def _backlog(before: list[list], now: datetime, waiting: int, oldest: datetime | None, since: datetime) -> list[list]:
    """[time, events waiting, age of the oldest in seconds] samples, one per census, for the chart."""
    age = int((now - oldest).total_seconds()) if oldest else 0
    kept = [sample for sample in before if datetime.fromisoformat(sample[0]) >= since]
    return [*kept, [_iso(now), waiting, age]]


def _fanout_lag(store: BaseStore, waiting: list[ObjectInfo], now: datetime) -> dict[str, Any]:
    """How far the store is behind the log: posts committed but not shown, and the oldest one's age.

    A thread's count in the store is its highest applied number (numbers are gapless), so a waiting
    claim above it has not been fanned out yet. Other events (moderation, boards) are not counted.
    """
    claims: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
    for info in waiting:
        found = parse_post_key(info.key)
        if found is not None and not found.marker:
            claims[(found.board, found.thread)].append((found.number, info.modified))
    behind: list[datetime] = []
    for (board, thread), numbers in claims.items():
        shown = queries.thread(store, board, thread)
        count = shown.count if shown is not None else 0
        behind += [modified for number, modified in numbers if number > count]
    oldest = min(behind, default=None)
    return {
        "posts": len(behind),
        "seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "threads": len(claims),
    }


# --- the summary: read live, cheaply -----------------------------------------------------------------


@dataclass
class Segment:
    """The newest segment of a kind (rollup, snapshot, bundle), as its manifest and listing say."""

    kind: str
    key: str
    written: datetime | None
    size: int
    count: int
    sha256: str
    present: bool  # the data is listed with the manifest's size

    def age(self, now: datetime) -> timedelta | None:
        return now - self.written if self.written else None


@dataclass
class Summary:
    now: datetime
    rollup: Segment | None
    snapshot: Segment | None
    bundle: Segment | None
    census: dict[str, Any] | None
    verification: dict[str, Any] | None
    rollup_late: bool
    snapshot_late: bool
    census_stale: bool
    alerts: list[str] = field(default_factory=list)

    @property
    def oldest_waiting(self) -> timedelta | None:
        oldest = _at((self.census or {}).get("oldest"))
        return self.now - oldest if oldest else None


def summary(log: BaseLog, store: BaseStore, now: datetime | None = None) -> Summary:
    """Every figure of the log-health page: the kept census and verification, the newest segments read live."""
    now = now or datetime.now(UTC)
    kept = _kept(store, CENSUS)
    head = latest(log)
    snapshot = _segment(log, "snapshot", head, _at(head.created) if head else None) if head else None
    rollup = _newest_hourly(log, now)
    bundle = _newest_daily(log, now)
    found = Summary(
        now=now,
        rollup=rollup,
        snapshot=snapshot,
        bundle=bundle,
        census=kept,
        verification=_kept(store, VERIFIED),
        rollup_late=_rollup_late(kept, now),
        snapshot_late=_snapshot_late(snapshot, kept, now),
        census_stale=kept is None or now - datetime.fromisoformat(kept["at"]) > stale_after(),
    )
    if found.rollup_late:
        found.alerts.append("rollup late")
    if found.snapshot_late:
        found.alerts.append("snapshot late")
    if found.census_stale:
        found.alerts.append("census stale")
    return found


def stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.HEALTH_CENSUS_SECONDS)


def _rollup_late(kept: dict[str, Any] | None, now: datetime) -> bool:
    oldest = _at((kept or {}).get("oldest"))
    if oldest is None:
        return False
    hour_end = oldest.replace(minute=0, second=0, microsecond=0) + k.HOUR
    return (now - hour_end).total_seconds() > settings.ROLLUP_LATE_SECONDS


def _snapshot_late(snapshot: Segment | None, kept: dict[str, Any] | None, now: datetime) -> bool:
    limit = timedelta(seconds=settings.SNAPSHOT_LATE_SECONDS)
    if snapshot is not None and snapshot.written is not None:
        return now - snapshot.written > limit
    first = _at((kept or {}).get("oldest_hourly"))
    return first is not None and now - first > limit


def _segment(log: BaseLog, kind: str, manifest: Manifest, written: datetime | None) -> Segment:
    listed = next(iter(log.list(manifest.key)), None)
    present = listed is not None and listed.key == manifest.key and listed.size == manifest.stats.size
    return Segment(kind, manifest.key, written, manifest.stats.size, manifest.count, manifest.sha256, present)


def _newest_manifest(log: BaseLog, prefixes: list[str]) -> ObjectInfo | None:
    """The last written manifest under the first of prefixes (newest first) that holds any."""
    for prefix in prefixes:
        manifests = [info for info in log.list(prefix) if k.is_manifest(info.key)]
        if manifests:
            return max(manifests, key=lambda info: (info.modified, info.key))
    return None


def _newest_hourly(log: BaseLog, now: datetime) -> Segment | None:
    days = [(now - timedelta(days=n)).date() for n in range(HOURLY_LOOKBACK_DAYS)]
    info = _newest_manifest(log, [f"{k.HOURLY}{day:%Y/%m/%d}/" for day in days])
    return _segment(log, "rollup", read_manifest(log, info.key), info.modified) if info else None


def _newest_daily(log: BaseLog, now: datetime) -> Segment | None:
    months, first = [], now.date().replace(day=1)
    for _ in range(DAILY_LOOKBACK_MONTHS):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    info = _newest_manifest(log, [f"{k.DAILY}{month:%Y/%m}/" for month in months])
    return _segment(log, "bundle", read_manifest(log, info.key), info.modified) if info else None
