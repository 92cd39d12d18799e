"""The log's health in figures for people: what the log-health page and ``manage.py loghealth`` show.

The newest rollup, snapshot and bundle, the backlog in incoming/ and every "late" judgement are
the lifecycle tick's: its look at the log (board/lifecycle/state.py, recorded once a minute), judged
by ``state.judge``, the same look and judgement /readyz reports. This module adds what the tick does
not keep:

* **the census**, counted by a job and kept (``census``, the Celery task ``utakata.health.census``
  every ``UTAKATA_HEALTH_CENSUS_SECONDS``): one listing of the whole log gives the bytes and
  objects per storage class, the fan-out lag as a count (posts committed but not in the store yet,
  the oldest one's age: one store read per thread with posts waiting), posts per hour (from the
  hourly manifests, each read once, and the tail's claims) and a sample of the backlog, for the
  charts. The result is one small object in the store (``meta/health.census``), rebuilt from the
  log by the next run if the store loses it;
* **what the last verifylog found** (``record_verification``), kept beside it;
* **a check on each view** that the newest segments' data is still listed with the size the look
  saw (one listing of each key, never of a prefix).

"Verified" means what the writers guarantee: a manifest is written only after its data was read back
whole and matched its sha256, size and count (segments.upload, snapshot.make_snapshot); the page adds
the listing above, not a fresh read of gigabytes per view. A census older than three intervals is
reported as stale: a stalled counter never shows old figures as current.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from board.events import EventType
from board.lifecycle import keys as k
from board.lifecycle import state as logstate
from board.lifecycle.manifests import read_manifest
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
DRIFT_LINES = 20


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


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
        "lag": _not_applied(store, waiting, now),
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


def _not_applied(store: BaseStore, waiting: list[ObjectInfo], now: datetime) -> dict[str, Any]:
    """How far the store is behind the log: posts committed but not shown, and the oldest one's age
    (state.fanout_lag is the other half: how long the latest post that was applied took).

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


# --- the summary: the tick's look and judgement, the kept census, a check of the newest data ---------


@dataclass(frozen=True)
class Segment:
    """One of the newest objects the tick's look found (rollup, snapshot, bundle), and whether its data
    is still listed now with the size the look saw."""

    kind: str
    made: logstate.Made
    present: bool


@dataclass
class Summary:
    now: datetime
    look: logstate.LogState | None  # the tick's recorded look, or one made for this summary
    findings: list[logstate.Finding]  # state.judge's: rollup, snapshot, the tick itself
    segments: dict[str, Segment | None]  # "rollup", "snapshot", "bundle"
    census: dict[str, Any] | None
    verification: dict[str, Any] | None
    census_stale: bool
    last_fanout: tuple[float, float] | None = None  # state.fanout_lag(): (seconds, when applied)
    cache_down: bool = False  # the tick's record and the fan-out time could not be read

    @property
    def late(self) -> list[str]:
        """The names of what is late ("rollup", "snapshot", "tick")."""
        return [finding.name for finding in self.findings if finding.late]

    @property
    def alerts(self) -> list[str]:
        return [f"{name} late" for name in self.late] + (["census stale"] if self.census_stale else [])


def summary(
    log: BaseLog, store: BaseStore, now: datetime | None = None, look: logstate.LogState | None = None
) -> Summary:
    """Every figure of the log-health page.

    The segments, backlog and lateness are the tick's recorded look judged by state.judge, or look,
    a look made just now (``manage.py loghealth --count``); the tick itself is judged from its record
    either way, so a look made by hand never hides a tick that stopped.
    """
    now = now or datetime.now(UTC)
    try:
        recorded, last_fanout, unreadable = logstate.recorded(), logstate.fanout_lag(), ""
    except Exception as exc:  # the cache down: the page is most wanted then, so it shows what the log says
        recorded, last_fanout = None, None
        unreadable = f"the cache (Redis) cannot be read ({type(exc).__name__}): the tick's last look is unknown"
    shown = look or recorded
    findings = logstate.judge(shown, now)
    if look is not None:
        tick = [finding for finding in logstate.judge(recorded, now) if finding.name == "tick"]
        findings = [finding for finding in findings if finding.name != "tick"] + tick
    if unreadable:
        findings = [logstate.Finding("tick", True, unreadable) if f.name == "tick" else f for f in findings]
    kept = _kept(store, CENSUS)
    return Summary(
        now=now,
        look=shown,
        findings=findings,
        segments={
            "rollup": _checked(log, "rollup", shown.last_rollup if shown else None),
            "snapshot": _checked(log, "snapshot", shown.snapshot if shown else None),
            "bundle": _checked(log, "bundle", shown.last_bundle if shown else None),
        },
        census=kept,
        verification=_kept(store, VERIFIED),
        census_stale=kept is None or now - datetime.fromisoformat(kept["at"]) > stale_after(),
        last_fanout=last_fanout,
        cache_down=bool(unreadable),
    )


def stale_after() -> timedelta:
    return timedelta(seconds=3 * settings.HEALTH_CENSUS_SECONDS)


def _checked(log: BaseLog, kind: str, made: logstate.Made | None) -> Segment | None:
    if made is None:
        return None
    listed = log.first(made.key)
    return Segment(kind, made, listed is not None and listed.key == made.key and listed.size == made.size)
