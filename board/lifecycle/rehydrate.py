"""Rehydrate: replay a restore plan into a store, and follow the log until told to stop.

Order matters because the rollup moves events from incoming/ into hourly/
while a restore runs: the tail is read *before* the hourly segments are
listed again, so an event is either still in incoming/ when the tail is read,
or in a segment by the time segments are listed. A snapshot that lands
meanwhile may bundle hourly segments away; a segment that vanished that way
is read from the daily bundle that now holds it.

Events go through BatchApplier (a bounded write-back cache), so memory stays
flat and the store sees large batches. Applying is idempotent, so a restore
into a store that already holds some of it (``--merge``) is safe.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from board.events import Event
from board.lifecycle import keys as k
from board.lifecycle.errors import MissingObject
from board.lifecycle.plan import Plan, remaining_hourly
from board.lifecycle.segments import Manifest, events, read_manifest
from board.lifecycle.snapshot import daily_manifests
from board.lifecycle.tail import read_objects
from board.log import BaseLog
from board.log.layout import INCOMING
from board.readmodel.projection import BatchApplier
from board.store import BaseStore

CHUNK = 4096
# Objects a restore keeps in BatchApplier's write-back cache: enough for every
# thread being posted to on a busy board (a page and a dat index each), so a
# page is encoded about once instead of at every eviction. About 250 MB of
# RSS at most, whatever the size of the log.
RESTORE_OBJECTS = 6000
Progress = Callable[[int], None]


@dataclass
class RestoreReport:
    applied: int = 0
    by_type: Counter = field(default_factory=Counter)
    last_id: str = ""
    seconds: float = 0.0
    sources: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    incoming_seen: set[str] = field(default_factory=set)
    segments_seen: set[tuple[str, str]] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        verb = "read (dry run, nothing applied)" if self.dry_run else "applied"
        out = [f"{self.applied} events {verb} in {self.seconds:.1f}s ({self.rate:,.0f} events/s)"]
        out += [f"  {kind}: {count}" for kind, count in sorted(self.by_type.items())]
        out.append(f"last event id: {self.last_id or '-'}")
        out += [f"  from {key}: {count}" for key, count in self.sources]
        out += [f"skipped {key}: {problem}" for key, problem in self.skipped]
        return out


class _Sink:
    """Where replayed events go: the store (through BatchApplier) or, in a dry run, nowhere."""

    def __init__(self, store: BaseStore | None, report: RestoreReport, cutoff: int | None, progress: Progress | None):
        self.applier = BatchApplier(store, max_objects=RESTORE_OBJECTS) if store is not None else None
        self.report = report
        self.cutoff = cutoff
        self.progress = progress or (lambda n: None)

    def take_segment(self, log: BaseLog, manifest: Manifest) -> None:
        reader = events(log, manifest)
        if self.cutoff is None:
            # The fast path: the reader already counts types and knows the last id.
            taken = self._feed(reader)
            assert reader.stats is not None
            self.report.by_type.update(reader.stats.types)
            self.report.last_id = max(self.report.last_id, reader.stats.last)
        else:
            taken = self._feed(self._counted(e for e in reader if e.time <= self.cutoff))
        self.report.sources.append((manifest.key, taken))
        self.report.segments_seen.add(manifest.ident)

    def take_events(self, label: str, stream: Iterable[Event]) -> None:
        cutoff = self.cutoff
        taken = self._feed(self._counted(e for e in stream if cutoff is None or e.time <= cutoff))
        self.report.sources.append((label, taken))

    def _counted(self, stream: Iterable[Event]) -> Iterable[Event]:
        by_type, last = self.report.by_type, self.report.last_id
        for event in stream:
            by_type[event.type] += 1
            if event.id > last:
                last = event.id
            yield event
        self.report.last_id = last

    def _feed(self, stream: Iterable[Event]) -> int:
        add = self.applier.add if self.applier is not None else None
        stream = iter(stream)
        taken = 0
        while chunk := list(islice(stream, CHUNK)):
            if add is not None:
                for event in chunk:
                    add(event)
            taken += len(chunk)
            self.progress(len(chunk))
        self.report.applied += taken
        return taken

    def flush(self) -> None:
        if self.applier is not None:
            self.applier.flush()


def restore(
    log: BaseLog, store: BaseStore, plan: Plan, dry_run: bool = False, progress: Progress | None = None
) -> RestoreReport:
    """Replay the plan (snapshot, bundles, tail, hourly segments) into store; see the module docstring."""
    started = time.monotonic()
    report = RestoreReport(dry_run=dry_run)
    sink = _Sink(None if dry_run else store, report, plan.until_ms, progress)
    for manifest in ([plan.snapshot] if plan.snapshot else []) + plan.daily:
        sink.take_segment(log, manifest)
    sink.take_events("incoming/", _tail_events(log, report))
    planned = {m.ident: m for m in plan.hourly}
    for manifest in remaining_hourly(log, plan):
        planned.setdefault(manifest.ident, manifest)
    vanished = []
    for manifest in sorted(planned.values(), key=lambda m: m.key):
        try:
            sink.take_segment(log, manifest)
        except MissingObject:
            vanished.append(manifest.ident)
    if vanished:
        _from_bundles(log, sink, set(vanished), report)
    sink.flush()
    report.seconds = time.monotonic() - started
    return report


def _tail_events(log: BaseLog, report: RestoreReport) -> Iterable[Event]:
    for item in read_objects(log, log.list(INCOMING)):
        if item.event is not None:
            report.incoming_seen.add(item.key)
            yield item.event
        elif item.problem != "gone":
            report.skipped.append((item.key, item.problem))


def _from_bundles(log: BaseLog, sink: _Sink, vanished: set[tuple[str, str]], report: RestoreReport) -> None:
    """Hourly segments bundled away while the restore ran: read the bundles that hold them."""
    for bundle in daily_manifests(log):
        if vanished & set(bundle.sources) and bundle.ident not in report.segments_seen:
            sink.take_segment(log, bundle)
            vanished -= set(bundle.sources)
    if vanished:
        key = sorted(vanished)[0][0]
        raise MissingObject(key, "an hourly segment vanished during the restore and no daily bundle holds it")


class Follower:
    """Keeps a restored store up to date: applies what is committed (or rolled up) after the restore."""

    def __init__(self, log: BaseLog, store: BaseStore, plan: Plan, report: RestoreReport) -> None:
        self.log = log
        self.store = store
        self.plan = plan
        self.seen = set(report.incoming_seen)
        self.segments = set(report.segments_seen) | plan.held
        self.manifests: set[tuple[str, object]] = set()  # (key, modified) of hourly manifests already read
        self.applied = 0

    def step(self) -> int:
        """One poll: new incoming objects, then hourly segments not applied yet. Returns events applied."""
        listed = list(self.log.list(INCOMING))
        fresh = [info for info in listed if info.key not in self.seen]
        applied = 0
        with BatchApplier(self.store) as applier:
            for item in read_objects(self.log, fresh):
                if item.event is not None:
                    applier.add(item.event)
                    self.seen.add(item.key)
                    applied += 1
            for manifest in self._new_segments():
                for event in events(self.log, manifest):
                    applier.add(event)
                    applied += 1
                self.segments.add(manifest.ident)
        # Forget keys rolled up meanwhile: the set stays the size of the tail.
        self.seen &= {info.key for info in listed}
        self.applied += applied
        return applied

    def _new_segments(self) -> list[Manifest]:
        """Hourly segments written since the last poll (only their manifests are read, once)."""
        listed = list(self.log.list(k.HOURLY))
        data = {info.key for info in listed if not k.is_manifest(info.key)}
        found = []
        for info in listed:
            mark = (info.key, info.modified)
            if not k.is_manifest(info.key) or mark in self.manifests:
                continue
            manifest = read_manifest(self.log, info.key)
            if manifest.key not in data:
                continue  # its data is not there yet (or no longer): look again next poll
            self.manifests.add(mark)
            if manifest.ident not in self.segments:
                found.append(manifest)
        return found

    def run(self, stop: threading.Event, interval: float, on_step: Callable[[int], None] | None = None) -> int:
        """Poll every interval seconds until stop is set; return the events applied."""
        while not stop.is_set():
            applied = self.step()
            if on_step is not None:
                on_step(applied)
            stop.wait(interval)
        return self.applied
