"""Segments: gzip JSONL objects of events sorted by id, and the manifests that describe them.

A segment is written to a temporary file first (so a snapshot of any size
goes up by multipart upload through ``create_from_file``), then created in the
log, read back and checked against the manifest, and only then is the
manifest created. Gzip output is deterministic (no timestamp, no file name),
so two writers of the same events write the same bytes, which the log's
conditional create counts as one write.

Hourly and daily manifests hold nothing a reader could not recompute from the
data (no clock, no host): a rollup that finds data without its manifest (a
crash between the two) can write the very manifest the crashed one would have.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import heapq
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import BinaryIO

from board.events import Event, decode, encode
from board.events.model import MalformedEvent
from board.lifecycle import purgelist
from board.lifecycle.errors import CorruptObject, MissingObject
from board.lifecycle.manifests import Manifest, Stats
from board.lifecycle.purgelist import PurgeList
from board.lifecycle.shards import Shard
from board.log import AlreadyExists, BaseLog, NotFound

COMPRESSLEVEL = 6
CHUNK = 1 << 20


# --- writing ---------------------------------------------------------------------


class Hashing:
    """A write-only file that hashes and counts what passes through to the real one."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class SegmentWriter:
    """Encodes events, in strictly increasing id order, into a gzip JSONL temporary file.

    Use as a context manager; ``finish()`` returns the Stats and leaves the
    file (``self.file``) rewound for upload. The file is removed on exit.
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="utakata-segment-")  # noqa: SIM115 - closed in __exit__
        self._hashing = Hashing(self.file)
        self._gzip = gzip.GzipFile(filename="", fileobj=self._hashing, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0)
        self._count = 0
        self._first = self._last = ""
        self._min = self._max = 0
        self._types: dict[str, int] = {}
        self._stats: Stats | None = None

    def write(self, event: Event) -> None:
        if event.id <= self._last:
            raise ValueError(f"segment events must be in increasing id order: {event.id} after {self._last}")
        self._gzip.write(encode(event) + b"\n")
        if not self._count:
            self._first = event.id
            self._min = self._max = event.time
        else:
            self._min = min(self._min, event.time)
            self._max = max(self._max, event.time)
        self._last = event.id
        self._count += 1
        self._types[event.type] = self._types.get(event.type, 0) + 1

    def write_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.write(event)

    def finish(self) -> Stats:
        if self._stats is None:
            self._gzip.close()
            self.file.flush()
            self._stats = Stats(
                count=self._count,
                sha256=self._hashing.digest.hexdigest(),
                size=self._hashing.size,
                first=self._first,
                last=self._last,
                min_time=self._min,
                max_time=self._max,
                types=dict(sorted(self._types.items())),
            )
        self.file.seek(0)
        return self._stats

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._gzip.close()
        self.file.close()


def upload(log: BaseLog, writer: SegmentWriter, manifest: Manifest, manifest_key: str) -> Manifest:
    """Create the data, read it back against the manifest, then create the manifest.

    Raises AlreadyExists if either key holds other bytes (another writer won),
    CorruptObject if what was read back is not what was written.
    """
    writer.finish()
    log.create_from_file(manifest.key, writer.file)
    verify(log, manifest)
    log.create(manifest_key, manifest.to_bytes())
    return manifest


# --- reading ---------------------------------------------------------------------


class _HashingReader:
    """A read-only file that hashes and counts what is read through it."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True


class SegmentReader:
    """Iterate the events of a segment object, checking it as it streams.

    Each line must decode and ids must strictly increase. When the stream
    ends, ``stats`` holds what was read; if ``expect`` was given, a mismatch
    with it (count, sha256, size, first/last id) raises CorruptObject. The
    check of the checksum necessarily comes after the events were yielded:
    callers that must not act on a bad object verify() it first.
    """

    def __init__(
        self,
        log: BaseLog,
        key: str,
        expect: Stats | None = None,
        shard: Shard | None = None,
        purges: PurgeList | None = None,
    ) -> None:
        self.log = log
        self.key = key
        self.expect = expect
        self.shard = shard
        self.purges = purges
        self.stats: Stats | None = None
        self._sha256, self._size = "", 0  # of the object's bytes, once its lines have all been read

    def __iter__(self) -> Iterator[Event]:
        # The purge list as it is when the read starts: purged text is never read back, whether or
        # not this object has been rewritten yet (stats and checks are of the bytes as stored).
        purges = self.purges if self.purges is not None else purgelist.load(self.log)
        stream = self._sharded(self.shard) if self.shard is not None else self._all()
        yield from purges.cleaned(stream) if purges else stream

    def _lines(self) -> Iterator[bytes]:
        """The object's lines, gunzipped as they stream; when they end, every byte is hashed (``_sha256``)."""
        key = self.key
        try:
            raw = self.log.open(key)
        except NotFound as exc:
            raise MissingObject(key, "named by its manifest but not in the log") from exc
        read = 0
        with raw:
            hashing = _HashingReader(raw)
            try:
                with gzip.GzipFile(fileobj=hashing, mode="rb") as lines:
                    for line in lines:
                        read += 1
                        yield line
                    # Read to the very end so the hash covers every byte.
                    while hashing.read(CHUNK):
                        pass
            except (OSError, EOFError, zlib.error) as exc:
                raise CorruptObject(key, f"not a complete gzip stream after {read} line(s): {exc}") from exc
        self._sha256, self._size = hashing.digest.hexdigest(), hashing.size

    def _decoded(self, number: int, line: bytes, last: str) -> Event:
        """A line's event, which must decode and come after the one decoded before it."""
        try:
            event = decode(line)
        except MalformedEvent as exc:
            raise CorruptObject(self.key, f"line {number}: {exc}") from exc
        if event.id <= last:
            raise CorruptObject(self.key, f"line {number}: id {event.id} is not after {last}")
        return event

    def _all(self) -> Iterator[Event]:
        count = 0
        first = last = ""
        low = high = 0
        types: dict[str, int] = {}
        for line in self._lines():
            event = self._decoded(count + 1, line, last)
            if not count:
                first = event.id
                low = high = event.time
            elif event.time < low:
                low = event.time
            elif event.time > high:
                high = event.time
            last = event.id
            count += 1
            types[event.type] = types.get(event.type, 0) + 1
            yield event
        self.stats = Stats(count, self._sha256, self._size, first, last, low, high, dict(sorted(types.items())))
        if self.expect is not None:
            _compare(self.key, self.expect, self.stats)

    def _sharded(self, shard: Shard) -> Iterator[Event]:
        """The events a restore process decodes (board/lifecycle/shards.py): only theirs are decoded.

        Every line is still hashed and counted; decoding and id order are
        checked for the lines decoded, the other shards check theirs. The
        stats count the shard's own threads' events only.
        """
        lines_read = taken = 0
        last = ""
        types: dict[str, int] = {}
        for line in self._lines():
            lines_read += 1
            if not shard.wants(line):
                continue
            event = self._decoded(lines_read, line, last)
            last = event.id
            if shard.owns(event):
                taken += 1
                types[event.type] = types.get(event.type, 0) + 1
            yield event
        self.stats = Stats(taken, self._sha256, self._size, "", last, 0, 0, dict(sorted(types.items())))
        if self.expect is not None:
            _compare(self.key, self.expect, replace(self.stats, count=lines_read), ("sha256", "size", "count"))


def raw_lines(log: BaseLog, manifest: Manifest, mark: bytes | tuple[bytes, ...]) -> Iterator[Event]:
    """Decode only the lines of a segment that contain mark (one of the marks): a fast scan for rare events.

    No checks beyond decoding: a scan feeds a later full, checked read.
    """
    marks = (mark,) if isinstance(mark, bytes) else mark
    try:
        raw = log.open(manifest.key)
    except NotFound as exc:
        raise MissingObject(manifest.key, "named by its manifest but not in the log") from exc
    with raw, gzip.GzipFile(fileobj=raw, mode="rb") as lines:
        try:
            for number, line in enumerate(lines, 1):
                if any(m in line for m in marks):
                    try:
                        yield decode(line)
                    except MalformedEvent as exc:
                        raise CorruptObject(manifest.key, f"line {number}: {exc}") from exc
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptObject(manifest.key, f"not a complete gzip stream: {exc}") from exc


def _compare(
    key: str,
    expect: Stats,
    got: Stats,
    fields: tuple[str, ...] = ("sha256", "size", "count", "first", "last", "min_time", "max_time"),
) -> None:
    for name in fields:
        want, have = getattr(expect, name), getattr(got, name)
        if want != have:
            raise CorruptObject(key, f"{name} is {have!r}, the manifest says {want!r}")


def describe(log: BaseLog, key: str) -> Stats:
    """Read a segment object whole and return its Stats (CorruptObject if it is not a segment)."""
    reader = SegmentReader(log, key, purges=purgelist.NOTHING)
    for _ in reader:
        pass
    assert reader.stats is not None
    return reader.stats


def verify(log: BaseLog, manifest: Manifest) -> None:
    """Read the manifest's data back whole; CorruptObject or MissingObject unless it matches."""
    stats = describe(log, manifest.key)
    _compare(manifest.key, manifest.stats, stats)


def events(
    log: BaseLog, manifest: Manifest, shard: Shard | None = None, purges: PurgeList | None = None
) -> SegmentReader:
    """The events of the segment a manifest describes (or of one shard), checked against it as they stream.

    Purged posts and accounts come out without their text (the log's purge
    list, or ``purges``; ``purgelist.NOTHING`` reads the bytes as stored).
    """
    return SegmentReader(log, manifest.key, manifest.stats, shard, purges)


def merged(streams: Iterable[Iterable[Event]]) -> Iterator[Event]:
    """Merge id-sorted event streams into one, each id once.

    Only the head of each stream is in memory. An id seen in several streams
    (a segment folded twice, a late part overlapping) is kept once; if one
    copy is redacted (snapshot compaction), the redacted copy wins.
    """
    current: Event | None = None
    for event in heapq.merge(*streams, key=_event_id):
        if current is not None and event.id == current.id:
            if event.payload.get("redacted") and not current.payload.get("redacted"):
                current = event
            continue
        if current is not None:
            yield current
        current = event
    if current is not None:
        yield current


def _event_id(event: Event) -> str:
    return event.id


__all__ = [
    "AlreadyExists",
    "SegmentReader",
    "SegmentWriter",
    "describe",
    "events",
    "merged",
    "upload",
    "verify",
]
