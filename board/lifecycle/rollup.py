"""The hourly rollup: an hour's incoming events become one sorted, verified segment.

Keys under incoming/posts/ carry no time, so the rollup reads the whole
incoming tail and groups events by the UTC hour of ``event.time``. An hour is
rolled once it closed more than the grace period ago. First, for each live
thread with claims in those hours, the gaps below the highest of them are
voided and the thread's floor written there (board/lifecycle/claims.py: no
claim is ever deleted above a floor). Then, for each such hour:

1. find the parts already written for it (a crashed or concurrent rollup,
   or an earlier run) and read their ids;
2. write the events not in any part as the next part, ``HH.jsonl.gz`` first,
   then ``HH.1.jsonl.gz``, ... (a commit that lands after its hour was
   rolled up becomes such an extra part; readers merge an hour's parts);
3. read it back and check it, then create its manifest;
4. apply every event of the hour to the store, and only then
5. delete the incoming objects, except each live thread's highest claim.

Then, once for the run:

6. tidy the threads' kept claims: a thread whose newest kept claim is marked
   loses its older kept claims and their markers, and its older floors; a
   thread whose ThreadArchived event was rolled up loses every claim, marker
   and floor.

Res numbers rest on step 5 (board/posting/numbers.py): the claim objects are
what makes a number unique, so a thread's highest claim is never deleted
while the thread is live. The run looks at the whole incoming listing, not
just the hours it rolls: a thread's highest claim is the highest-numbered
``incoming/posts/<board>/<thread>/<nnnn>.json`` listed anywhere. A claim
below it is deleted as before; the highest one stays and, if its hour was
rolled, gets a marker ``<nnnn>.rolled`` next to it, written after the event
is in hourly/ and applied. Every reader of the tail (tail.pending) skips
markers and marked claims, so a kept claim is never applied, reconciled or
rolled up again. A claim is deleted only by a rollup that saw a higher claim
of its thread, so by induction the highest one committed always remains; an
archived thread takes no more posts, so its claims go with its archival.

A crash anywhere is resumed by the next run: data without a manifest gets the
manifest it would have had (manifests are a function of the data), events in
an existing part are not written again, applying is idempotent and deleting
an absent object is not an error. Two rollups of one hour at once write the
same bytes for the same events, which the conditional create counts as one
write; if they saw different events, the loser finds the winner's part,
writes only what it lacks as the next part, and both end in one segment set
holding every event once.

Markers are written before the other claims are deleted and removed after
the claims they mark, so a crash leaves at worst a kept claim unmarked (rolled
again by the next run, found already rolled up) or a marker without its claim
(skipped by readers, removed by a later step 6).

Known limit: events that were already bundled into daily/ (their hourly part
deleted) and still linger in incoming/ (a crash, then a day without rollups)
are written again as a new part. Duplicates are harmless (apply is
idempotent, merges keep one copy per id), just wasteful. Kept claims do not
make this the normal case: a kept claim is marked in the run that rolls it,
and a marked claim is not part of the tail any more.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings

from board.events import Event, EventType
from board.lifecycle import keys as k
from board.lifecycle.claims import Claims, settle_gaps, tidy_claims
from board.lifecycle.errors import LifecycleError
from board.lifecycle.manifests import Manifest, read_manifest
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.segments import SegmentWriter, describe, events, upload
from board.lifecycle.spool import Spool
from board.lifecycle.tail import read_tail
from board.log import AlreadyExists, BaseLog
from board.log.layout import marker_key, parse_post_key
from board.readmodel.batch import BatchApplier
from board.store import BaseStore

logger = logging.getLogger(__name__)


FALLS = (EventType.THREAD_ARCHIVED, EventType.THREAD_RESTORED)


class NotClosed(LifecycleError):
    """The hour asked for has not closed (plus the grace period) yet."""


@dataclass
class HourResult:
    hour: datetime
    events: int = 0
    already: int = 0
    written: list[str] = field(default_factory=list)
    deleted: int = 0
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    bytes: int = 0  # of the parts written

    def line(self) -> str:
        label = f"{self.hour:%Y-%m-%dT%H}"
        if self.error:
            return f"{label}: FAILED after {self.seconds:.1f}s: {self.error}"
        parts = ", ".join(self.written) or "no new part"
        return (
            f"{label}: {self.events} event(s) -> {parts} ({self.events - self.already} new, "
            f"{self.already} already rolled up), {self.deleted} incoming object(s) removed, "
            f"{len(self.kept)} kept as their thread's highest claim in {self.seconds:.1f}s"
        )


@dataclass
class RollupReport:
    hours: list[HourResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    open_events: int = 0
    closed_before: datetime | None = None
    tidied: int = 0
    voided: list[str] = field(default_factory=list)  # numbers nobody wrote, voided before their floor
    held: dict[tuple[str, str], str] = field(default_factory=dict)  # threads whose claims stay, and why
    seconds: float = 0.0

    @property
    def failed(self) -> list[HourResult]:
        return [h for h in self.hours if h.error]

    def summary(self) -> str:
        """The run in one line: what the operator reads last."""
        written = sum(h.events - h.already for h in self.hours if not h.error)
        return (
            f"rollup: {len(self.hours) - len(self.failed)} hour(s) rolled up, {len(self.failed)} failed, "
            f"{written} event(s) written, {len(self.skipped)} object(s) skipped, {self.open_events} left in "
            f"open hours, {self.tidied} kept claim(s) tidied, {len(self.voided)} gap(s) voided, "
            f"{len(self.held)} thread(s) keeping their claims for a later run, in {self.seconds:.1f}s"
        )


def grace() -> timedelta:
    return timedelta(seconds=settings.ROLLUP_GRACE_SECONDS)


def closed_before(now: datetime, grace_period: timedelta) -> datetime:
    """The first hour that is not closed yet: every hour before it may be rolled up."""
    return k.hour_of(k.ms(now - grace_period))


def rollup(
    log: BaseLog,
    store: BaseStore,
    now: datetime | None = None,
    hour: datetime | None = None,
    grace_period: timedelta | None = None,
    progress: Progress | None = None,
) -> RollupReport:
    """Roll up every closed hour found in incoming/ (or just ``hour``), saying how far it is to progress."""
    started = time.monotonic()
    progress = progress or quiet("rollup")
    now = now or datetime.now(UTC)
    limit = closed_before(now, grace() if grace_period is None else grace_period)
    if hour is not None and hour >= limit:
        raise NotClosed(
            f"hour {hour:%Y-%m-%dT%H} is not closed yet: it ends at {hour + k.HOUR:%Y-%m-%dT%H:%M}Z "
            f"and is rolled up once the grace period after that has passed"
        )
    report = RollupReport(closed_before=limit)
    claims = Claims()
    rolling: dict[tuple[str, str], int] = {}  # each thread's highest number rolled up in this run
    archiving: dict[tuple[str, str], datetime] = {}
    latest_fall: dict[tuple[str, str], tuple[str, str]] = {}  # a thread's latest archival or restore
    with Spool() as spool:
        progress.phase("reading incoming/")
        for item in read_tail(log, observe=claims.see):
            progress.add("incoming object(s) read")
            if item.event is None:
                if item.problem != "gone":
                    report.skipped.append((item.key, item.problem))
                    logger.error("rollup: skipped %s: %s", item.key, item.problem)
                continue
            event_hour = k.hour_of(item.event.time)
            if item.event.type in FALLS and item.event.thread is not None:
                slot = (item.event.board, item.event.thread)
                if item.event.id > latest_fall.get(slot, ("",))[0]:
                    latest_fall[slot] = (item.event.id, item.event.type)
            if event_hour >= limit:
                report.open_events += 1
            elif hour is None or event_hour == hour:
                assert item.data is not None
                spool.add(event_hour, item.event.id, item.key, item.data)
                parsed = parse_post_key(item.key)
                if parsed is not None:
                    slot = (parsed.board, parsed.thread)
                    rolling[slot] = max(rolling.get(slot, 0), parsed.number)
                if item.event.type == EventType.THREAD_ARCHIVED and item.event.thread is not None:
                    archiving[(item.event.board, item.event.thread)] = event_hour
        # A thread archived and then restored (ThreadRestored) keeps its claims.
        for slot, (_, kind) in latest_fall.items():
            if kind != EventType.THREAD_ARCHIVED:
                archiving.pop(slot, None)
        keep = claims.highest(exclude=archiving.keys())
        settled = settle_gaps(log, claims, {slot: top for slot, top in rolling.items() if slot not in archiving})
        report.voided, report.held = settled.voided, settled.held
        hours = spool.hours()
        for done, event_hour in enumerate(hours):
            progress.phase(f"rolling up {event_hour:%Y-%m-%dT%H} ({done + 1} of {len(hours)} hours)")
            report.hours.append(roll_hour(log, store, event_hour, spool, keep, settled.held))
            progress.add("event(s) rolled up", report.hours[-1].events)
    rolled = {result.hour for result in report.hours if not result.error}
    for result in report.hours:
        claims.marked_now(result.kept)
    archived = {thread for thread, event_hour in archiving.items() if event_hour in rolled}
    try:
        report.tidied = tidy_claims(log, claims, archived)
    except Exception:  # the hours are rolled up; what is left to tidy is tidied by the next run
        logger.exception("rollup: tidying kept claims failed")
    report.seconds = time.monotonic() - started
    return report


def roll_hour(
    log: BaseLog,
    store: BaseStore,
    hour: datetime,
    spool: Spool,
    keep: frozenset[str] = frozenset(),
    held: Collection[tuple[str, str]] = (),
) -> HourResult:
    """Steps 1-5 of the module docstring for one hour whose incoming events are in spool.

    keep holds the claim keys not to delete (each live thread's highest); the
    ones of this hour get their marker. The claims of the held threads stay
    as they are (no floor could be written for them, board/lifecycle/claims.py).
    """
    started = time.monotonic()
    result = HourResult(hour, events=spool.count(hour))
    try:
        bundled = _bundled_parts(log, hour)
        parts, taken = _existing_parts(log, hour, bundled)
        covered: set[str] = set()
        for manifest in parts:
            covered |= _ids(log, manifest)
        while True:
            todo = [entry for entry in spool.entries(hour) if entry[0] not in covered]
            if not todo:
                break
            part = max(taken, default=-1) + 1
            try:
                manifest = _write_part(log, hour, part, spool.read(todo))
            except AlreadyExists:
                # Another rollup wrote this part first: take what it holds and go on after it.
                taken.add(part)
                manifest = _complete(log, k.hourly_key(hour, part), hour, part)
                covered |= _ids(log, manifest)
                continue
            result.written.append(manifest.key)
            result.bytes += manifest.stats.size
            break
        result.already = sum(1 for entry in spool.entries(hour) if entry[0] in covered)
        with BatchApplier(store) as applier:
            for _, event in spool.read(spool.entries(hour)):
                applier.add(event)
        incoming = [entry[1] for entry in spool.entries(hour) if _thread_of(entry[1]) not in held]
        kept = [key for key in incoming if key in keep]
        for key in kept:
            _mark(log, key)
        gone = [key for key in incoming if key not in keep]
        log.delete(gone)
        result.deleted = len(gone)
        result.kept = kept
    except Exception as exc:  # one bad hour must not stop the others; the report says which
        logger.exception("rollup of %s failed", f"{hour:%Y-%m-%dT%H}")
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return result


def _thread_of(key: str) -> tuple[str, str] | None:
    parsed = parse_post_key(key)
    return None if parsed is None else (parsed.board, parsed.thread)


def _mark(log: BaseLog, claim: str) -> None:
    """Write the marker of a kept claim whose event is now in hourly/."""
    parsed = parse_post_key(claim)
    assert parsed is not None and not parsed.marker
    with contextlib.suppress(AlreadyExists):  # a marker is empty: whatever is there says the same
        log.create(marker_key(parsed.board, parsed.thread, parsed.number), b"")


def _bundled_parts(log: BaseLog, hour: datetime) -> set[str]:
    """Keys of this hour's parts already bundled into daily/ (their hourly objects may be gone)."""
    found = set()
    prefix = k.hourly_prefix(hour)
    for info in log.list(k.daily_prefix(hour.date())):
        if k.is_manifest(info.key):
            for key, _ in read_manifest(log, info.key).sources:
                if key.startswith(prefix):
                    found.add(key)
    return found


def _existing_parts(log: BaseLog, hour: datetime, bundled: set[str]) -> tuple[list[Manifest], set[int]]:
    """The hour's live parts (manifests completed where a crash left only data) and every part number used."""
    data: dict[int, str] = {}
    manifests: dict[int, str] = {}
    for info in log.list(k.hourly_prefix(hour)):
        parsed = k.parse_hourly(info.key)
        if parsed is None:
            continue
        (manifests if k.is_manifest(info.key) else data)[parsed[1]] = info.key
    taken = set(data) | set(manifests)
    for key in bundled:
        parsed = k.parse_hourly(key)
        if parsed is not None:
            taken.add(parsed[1])
    parts = []
    for part in sorted(set(data) | set(manifests)):
        key = k.hourly_key(hour, part)
        if key in bundled:
            continue  # its events are in daily/ now; lingering objects are the bundler's to remove
        if part in manifests and part in data:
            parts.append(read_manifest(log, manifests[part]))
        elif part in data:
            parts.append(_complete(log, key, hour, part))
        # A manifest without data and not bundled cannot be: data is created first, deleted first.
    return parts, taken


def _complete(log: BaseLog, key: str, hour: datetime, part: int) -> Manifest:
    """The manifest of an existing part, writing it if a crash (or a racer) has not yet."""
    manifest_key = k.manifest_key(key)
    if log.exists(manifest_key):
        return read_manifest(log, manifest_key)
    manifest = hourly_manifest(key, hour, part, describe(log, key))
    log.create(manifest_key, manifest.to_bytes())
    return manifest


def hourly_manifest(key: str, hour: datetime, part: int, stats) -> Manifest:
    return Manifest(kind="hourly", key=key, stats=stats, hour=f"{hour:%Y-%m-%dT%H}", part=part)


def _ids(log: BaseLog, manifest: Manifest) -> set[str]:
    return {event.id for event in events(log, manifest)}


def _write_part(log: BaseLog, hour: datetime, part: int, todo: Iterator[tuple[str, Event]]) -> Manifest:
    key = k.hourly_key(hour, part)
    with SegmentWriter() as writer:
        for _, event in todo:
            writer.write(event)
        stats = writer.finish()
        return upload(log, writer, hourly_manifest(key, hour, part, stats), k.manifest_key(key))
