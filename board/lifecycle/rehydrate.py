"""Rehydrate: replay a restore plan into a store (following the log afterwards: follow.py).

To the present and into an empty store, the snapshot's image (images.py)
is copied, and only what the snapshot does not hold is replayed.

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

import multiprocessing
import os
import pickle
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from queue import Empty

from board.events import Event
from board.lifecycle import images
from board.lifecycle.errors import LifecycleError, MissingObject
from board.lifecycle.manifests import Manifest, current
from board.lifecycle.plan import Plan, remaining_hourly
from board.lifecycle.purgelist import PurgeList
from board.lifecycle.segments import events
from board.lifecycle.shards import Shard
from board.lifecycle.snapshot import daily_manifests
from board.lifecycle.tail import pending, read_objects
from board.log import BaseLog
from board.log.layout import INCOMING
from board.readmodel.batch import BatchApplier
from board.store import BaseStore

CHUNK = 4096
# Objects a restore keeps in BatchApplier's write-back cache: enough for every
# thread being posted to on a busy board (a page and a thread object each) and
# the search index's current slots, so each object is written about once, when
# it has gone cold. About 250 MB of RSS at most, whatever the size of the log.
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
    image: str = ""  # whether the snapshot's image was copied, or why not (images.copy)

    def took_whole(self, source: str, segment: Manifest) -> None:
        """Count a segment applied at once from source (its image), by what its manifest says it holds."""
        self.applied += segment.count
        self.by_type.update(segment.stats.types)
        self.last_id = max(self.last_id, segment.stats.last)
        self.sources.append((source, segment.count))
        self.segments_seen.add(segment.ident)

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        verb = "read (dry run, nothing applied)" if self.dry_run else "applied"
        out = [f"{self.applied} events {verb} in {self.seconds:.1f}s ({self.rate:,.0f} events/s)"]
        if self.image:
            out.append(self.image)
        out += [f"  {kind}: {count}" for kind, count in sorted(self.by_type.items())]
        out.append(f"last event id: {self.last_id or '-'}")
        out += [f"  from {key}: {count}" for key, count in self.sources]
        out += [f"skipped {key}: {problem}" for key, problem in self.skipped]
        return out


class _Sink:
    """Where replayed events go: the store (through BatchApplier) or, in a dry run, nowhere."""

    def __init__(
        self,
        store: BaseStore | None,
        report: RestoreReport,
        cutoff: int | None,
        progress: Progress | None,
        shard: Shard | None = None,
        fresh: bool = False,
        purges: PurgeList | None = None,
    ):
        self.applier = BatchApplier(store, RESTORE_OBJECTS, fresh) if store is not None else None
        self.report = report
        self.cutoff = cutoff
        self.progress = progress or (lambda n: None)
        self.shard = shard
        self.purges = purges  # None: the log's list as each read starts

    def take_segment(self, log: BaseLog, manifest: Manifest) -> None:
        reader = events(log, manifest, self.shard, self.purges)
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
        by_type, last, shard = self.report.by_type, self.report.last_id, self.shard
        for event in stream:
            if shard is None or shard.owns(event):
                by_type[event.type] += 1
                if event.id > last:
                    last = event.id
            yield event
        self.report.last_id = last

    def _feed(self, stream: Iterable[Event]) -> int:
        """Apply the events; return how many were this sink's own (a shard's own threads' events)."""
        add = self.applier.add if self.applier is not None else None
        shard = self.shard
        stream = iter(stream)
        taken = 0
        while chunk := list(islice(stream, CHUNK)):
            if shard is None:
                owned = len(chunk)
                if add is not None:
                    for event in chunk:
                        add(event)
            else:
                owned = sum(1 for event in chunk if shard.owns(event))
                if add is not None:
                    for event in chunk:
                        add(event, shard.deltas(event))
            taken += owned
            self.progress(owned)
        self.report.applied += taken
        return taken

    def flush(self) -> None:
        if self.applier is not None:
            self.applier.flush()


def restore(
    log: BaseLog,
    store: BaseStore,
    plan: Plan,
    dry_run: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    image: bool = True,
) -> RestoreReport:
    """Replay the plan into store: its segments (in workers processes), then the tail and new segments.

    To the present and into an empty store, the snapshot's image is copied
    rather than its events replayed, where it may be (images.py;
    ``image=False`` replays them anyway).

    With workers > 1 (and a store other processes can write to: SQLite,
    Riak), each worker reads every planned segment but decodes and applies
    only its shard of the threads and of the search index (shards.py);
    objects several shards touch (a board's thread list, a day's list of
    index slots) are written once by each and joined by the store
    (conditional writes on SQLite, siblings on Riak).
    The tail and the hourly segments rolled up meanwhile are applied here
    afterwards, which keeps the order the module docstring asks for.
    """
    started = time.monotonic()
    report = RestoreReport(dry_run=dry_run)
    segments = plan.segments
    # Into an empty store, what the segments hold is written without reading it first (BatchApplier).
    fresh = not dry_run and store.is_empty()
    # Only LATEST keeps its image (snapshot.prune): a restore to a point in time replays its snapshot.
    snapshot = plan.snapshot if image and (fresh or dry_run) and plan.until is None else None
    if snapshot is not None:
        copied, report.image = images.copy(log, store, snapshot, progress or (lambda n: None), dry_run)
        if copied is not None:
            report.took_whole(copied.key, snapshot)
            segments, fresh = plan.daily + plan.hourly, False
    if workers > 1 and shareable(store):
        vanished = _in_workers(log, store, segments, plan.until_ms, dry_run, progress, workers, report, fresh)
    else:
        sink = _Sink(None if dry_run else store, report, plan.until_ms, progress, fresh=fresh)
        vanished = _take_all(sink, log, segments)
        sink.flush()
    sink = _Sink(None if dry_run else store, report, plan.until_ms, progress)
    sink.take_events("incoming/", _tail_events(log, report))
    newer = [m for m in remaining_hourly(log, plan) if m.ident not in report.segments_seen]
    vanished += _take_all(sink, log, newer)
    if vanished:
        _from_bundles(log, sink, set(vanished), report)
    sink.flush()
    if not dry_run:
        mark_restored(store, report.last_id)
    report.seconds = time.monotonic() - started
    return report


def replay(
    log: BaseLog, store: BaseStore, segments: list[Manifest], purges: PurgeList, progress: Progress | None = None
) -> RestoreReport:
    """Apply snapshots or bundles alone (no tail, no mark), read through purges: what an image is made of."""
    report = RestoreReport()
    sink = _Sink(store, report, None, progress, fresh=store.is_empty(), purges=purges)
    _take_all(sink, log, segments)
    sink.flush()
    return report


# A store holds this once a restore ran to its end: --if-empty tells a finished
# restore from data that a restore killed halfway (or an early fan-out) left.
MARK = ("meta", "restored")


def mark_restored(store: BaseStore, last_id: str) -> None:
    """Record that a restore finished (the highest last event id wins between racing restores)."""

    def newer(values: list[bytes]) -> bytes:
        return max(values)

    mine = (last_id or "-").encode()  # "-": a restore of an empty log finished too
    store.update(*MARK, lambda current: max(current or b"", mine), newer)


def was_restored(store: BaseStore) -> bool:
    """Whether a restore into this store ran to its end."""
    return store.fetch(*MARK) is not None


def default_workers() -> int:
    """Restore processes by default: one per CPU, at most four (the store's writes serialize beyond)."""
    return max(1, min(4, os.cpu_count() or 1))


def shareable(store: BaseStore) -> bool:
    """Whether other processes writing to this store write to the same data (not so in memory)."""
    from board.store.memory import MemoryStore

    return not isinstance(store, MemoryStore)


def _take_all(sink: _Sink, log: BaseLog, segments: list[Manifest]) -> list[tuple[str, str]]:
    """Apply each segment; return the hourly ones that vanished (bundled away meanwhile)."""
    vanished = []
    for manifest in segments:
        try:
            sink.take_segment(log, manifest)
        except MissingObject:
            # A purge rewrote it meanwhile: its manifest names the cleaned data now.
            moved = current(log, manifest)
            if moved is not None:
                sink.take_segment(log, moved)
                continue
            if manifest.kind != "hourly":
                raise
            vanished.append(manifest.ident)
    return vanished


def _in_workers(
    log: BaseLog,
    store: BaseStore,
    segments: list[Manifest],
    cutoff: int | None,
    dry_run: bool,
    progress: Progress | None,
    workers: int,
    report: RestoreReport,
    fresh: bool = False,
) -> list[tuple[str, str]]:
    """Run _worker in forked processes, one shard each; merge what they report into report."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    specs = ((type(log), log.location, log.options), (type(store), store.location, store.options))
    procs = [
        context.Process(
            target=_worker, args=(*specs, segments, Shard(i, workers), cutoff, dry_run, queue, fresh), daemon=True
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    vanished: list[tuple[str, str]] = []
    counts: Counter = Counter()
    done = 0
    try:
        while done < workers:
            try:
                kind, payload = queue.get(timeout=1)
            except Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise LifecycleError(f"a restore worker died (exit code {dead[0].exitcode})") from None
                continue
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "error":
                raise payload
            else:
                applied, by_type, last_id, sources, seen, lost = payload
                report.applied += applied
                report.by_type.update(by_type)
                report.last_id = max(report.last_id, last_id)
                counts.update(dict(sources))
                report.segments_seen |= seen
                vanished += [ident for ident in lost if ident not in vanished]
                done += 1
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
    report.sources += [(m.key, counts[m.key]) for m in segments if m.key in counts]
    return vanished


def _worker(log_spec, store_spec, segments, shard, cutoff, dry_run, queue, fresh=False) -> None:
    """One restore process: apply its shard of the planned segments, then report to the parent."""
    try:
        log = log_spec[0](log_spec[1], log_spec[2])
        store = None if dry_run else store_spec[0](store_spec[1], store_spec[2])
        part = RestoreReport(dry_run=dry_run)
        sink = _Sink(store, part, cutoff, lambda n: queue.put(("progress", n)), shard, fresh)
        lost = _take_all(sink, log, segments)
        sink.flush()
        if store is not None:
            store.close()
        queue.put(("done", (part.applied, dict(part.by_type), part.last_id, part.sources, part.segments_seen, lost)))
    except BaseException as exc:  # everything goes to the parent, which re-raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = LifecycleError(f"{type(exc).__name__}: {exc}")
        queue.put(("error", exc))


def _tail_events(log: BaseLog, report: RestoreReport) -> Iterable[Event]:
    for item in read_objects(log, pending(log.list(INCOMING))):
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
