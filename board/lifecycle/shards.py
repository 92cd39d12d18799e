"""A restore process's share of the log: a shard of the threads, and of the search index.

A restore in several processes (board/lifecycle/rehydrate.py) gives each
the threads whose key hashes to it, so a thread's pages and thread object
are written by one process only. The moderators' search index is keyed
otherwise: a post's entry goes to its 10-minute slot, in a shard chosen by
its event id (board/readmodel/moderation.py), so every slot holds posts of
every process's threads. Split by thread alone, each process wrote every
slot: each write after the first was refused, read and joined again, and
the processes queued for SQLite's write lock (two processes restored
hardly faster than one). So the index's shards are shared out too: a
process also decodes the post lines of other threads whose entry falls in
one of its index shards, and applies only that entry.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from board.events import Event
from board.readmodel import moderation
from board.readmodel.projection import Delta, deltas

_THREAD = b',"thread":"'
_ID = b'"id":"'
_POSTED_EVENT = b'"posted_event":"'


@dataclass(frozen=True)
class Shard:
    """One of ``count`` restore processes' share: number ``index``."""

    index: int
    count: int

    def wants(self, line: bytes) -> bool:
        """Whether to decode an encoded event: one of this shard's threads, or a search index entry of its own.

        Read from the bytes, without decoding. In canonical JSON the top-level
        ``"thread"`` key is the last one preceded by ``,"`` (a string cannot
        hold that pair unescaped, and payload keys sort before it); events
        without a thread (and so without an index entry) go to shard 0. The
        first ``"id":"`` of a line is the event's own id (only "board", a
        name, sorts before it). A deletion's entry is its post's, named in
        its payload: deletions are rare, so they are all decoded and left to
        ``deltas``. When in doubt a line is decoded.
        """
        at = line.rfind(_THREAD)
        if at < 0:
            return self.index == 0
        start = at + len(_THREAD)
        if zlib.crc32(line[start : line.find(b'"', start)]) % self.count == self.index or _POSTED_EVENT in line:
            return True
        at = line.find(_ID)
        if at < 0:
            return True
        start = at + len(_ID)
        return self._indexes(moderation.shard_of(line[start : line.find(b'"', start)]))

    def owns(self, event: Event) -> bool:
        """Whether the event is of this shard's threads (as ``wants`` reads it from the bytes)."""
        return zlib.crc32((event.thread or "").encode()) % self.count == self.index

    def deltas(self, event: Event) -> Iterable[Delta]:
        """What this shard applies of an event: all of it for its own threads, less the index entries of others."""
        entry = moderation.index_shard(event)
        if self.owns(event):
            return deltas(event, index=entry is None or self._indexes(entry))
        return moderation.index_deltas(event) if entry is not None and self._indexes(entry) else ()

    def _indexes(self, index_shard: int) -> bool:
        return index_shard % self.count == self.index
