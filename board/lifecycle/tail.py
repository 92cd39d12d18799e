"""The incoming tail: the per-event objects not rolled up yet, read in parallel.

One GET per event is latency-bound on S3 (tens of milliseconds each), so
reads go through a small thread pool, a bounded window at a time: memory holds
at most ``window`` objects, however long the tail is. Log backends are safe to
share between threads (boto3 clients are; the local and memory logs lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from board.events import Event, decode
from board.events.model import MalformedEvent
from board.log import BaseLog, NotFound, ObjectInfo
from board.log.layout import INCOMING

WORKERS = 8
WINDOW = 256


@dataclass(frozen=True, slots=True)
class TailItem:
    """One incoming object: its event, or why it could not be read (gone, or not an event)."""

    info: ObjectInfo
    data: bytes | None
    event: Event | None
    problem: str = ""

    @property
    def key(self) -> str:
        return self.info.key


def _fetch(log: BaseLog, info: ObjectInfo) -> TailItem:
    try:
        data = log.read(info.key)
    except NotFound:
        # Rolled up (or reconciled away) between the listing and the read.
        return TailItem(info, None, None, "gone")
    try:
        return TailItem(info, data, decode(data))
    except MalformedEvent as exc:
        return TailItem(info, data, None, f"not an event: {exc}")


def read_objects(log: BaseLog, infos: Iterable[ObjectInfo], workers: int = WORKERS) -> Iterator[TailItem]:
    """Read and decode each listed object, in listing order, a window at a time."""
    infos = iter(infos)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="utakata-tail") as pool:
        while window := list(islice(infos, WINDOW)):
            yield from pool.map(lambda info: _fetch(log, info), window)


def read_tail(log: BaseLog, start_after: str = "", workers: int = WORKERS) -> Iterator[TailItem]:
    """Every object under incoming/ (optionally after a key), read and decoded."""
    return read_objects(log, log.list(INCOMING, start_after=start_after), workers)
