"""The incoming tail: the per-event objects not rolled up yet, read in parallel.

One GET per event is latency-bound on S3 (tens of milliseconds each), so
reads go through a small thread pool, a bounded window at a time: memory holds
at most ``window`` objects, however long the tail is. Log backends are safe to
share between threads (boto3 clients are; the local and memory logs lock).

Not everything under incoming/ is pending. The rollup keeps each live
thread's highest claim (so numbering can see it) and writes a marker next to
it once its event is in hourly/; ``pending`` leaves both out, so that no
reader applies, reconciles or rolls up a kept claim a second time. A
thread's floor (board/lifecycle/claims.py) holds no event either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from board.events import Event, decode, encode
from board.events.model import MalformedEvent
from board.lifecycle import purgelist
from board.lifecycle.purgelist import NOTHING, PurgeList
from board.log import BaseLog, NotFound, ObjectInfo
from board.log.layout import INCOMING, claim_of_marker, is_floor, is_marker

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


def _fetch(log: BaseLog, info: ObjectInfo, purges: PurgeList = NOTHING) -> TailItem:
    try:
        data = log.read(info.key)
    except NotFound:
        # Rolled up (or reconciled away) between the listing and the read.
        return TailItem(info, None, None, "gone")
    try:
        event = decode(data)
    except MalformedEvent as exc:
        return TailItem(info, data, None, f"not an event: {exc}")
    if purges and purges.hits(event):
        # Purged but not rewritten yet: what is read (and rolled up from data) is without its text.
        cleaned = purges.redact(event)
        if cleaned is not event:
            return TailItem(info, encode(cleaned), cleaned)
    return TailItem(info, data, event)


def pending(infos: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
    """The listed incoming objects whose events are not in hourly/ yet (no marker, marked claim or floor).

    A marker sorts right after its claim (``0005.json`` < ``0005.rolled``, and
    no other key of the layout lies between them), so one object of look-ahead
    is enough: the listing is still read lazily, in order.
    """
    held: ObjectInfo | None = None
    for info in infos:
        if is_floor(info.key):
            continue
        if is_marker(info.key):
            if held is not None and held.key != claim_of_marker(info.key):
                yield held
            held = None
            continue
        if held is not None:
            yield held
        held = info
    if held is not None:
        yield held


def read_objects(
    log: BaseLog, infos: Iterable[ObjectInfo], workers: int = WORKERS, purges: PurgeList | None = None
) -> Iterator[TailItem]:
    """Read and decode each listed object, in listing order, a window at a time, purged text left out.

    The purge list is the log's as the read starts, or ``purges`` (``NOTHING``: the bytes as stored).
    """
    infos = iter(infos)
    if purges is None:
        purges = purgelist.load(log)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="utakata-tail") as pool:
        while window := list(islice(infos, WINDOW)):
            yield from pool.map(lambda info: _fetch(log, info, purges), window)


def read_tail(
    log: BaseLog,
    start_after: str = "",
    workers: int = WORKERS,
    observe: Callable[[ObjectInfo], None] | None = None,
) -> Iterator[TailItem]:
    """Every pending object under incoming/ (optionally after a key), read and decoded.

    observe, if given, is called with every listed object, markers and kept
    claims included, before they are filtered out (the rollup needs them).
    """
    listing: Iterable[ObjectInfo] = log.list(INCOMING, start_after=start_after)
    if observe is not None:
        listing = _observed(listing, observe)
    return read_objects(log, pending(listing), workers)


def _observed(infos: Iterable[ObjectInfo], observe: Callable[[ObjectInfo], None]) -> Iterator[ObjectInfo]:
    for info in infos:
        observe(info)
        yield info
