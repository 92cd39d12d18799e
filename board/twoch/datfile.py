"""A thread's .dat, read from the bytes the projection stored: nothing is rendered here.

Each posts page holds its share of the dat (see readmodel.encoding) and the
thread's object records each share's size and fingerprint. A request reads
the board's settings (kept in the process) and that small object to learn
the dat's size and ETag (enough for 304 and 416), then fetches only the
pages holding the bytes asked for. A Range request for the last few bytes of
a 1000-post thread reads one page.

The index is written after its page, so it can lag the page for a moment (or
longer after a crash, until the event is redelivered). Every page fetched is
checked against it; if one disagrees, the dat is rebuilt from the pages
themselves, the index is repaired, and the caller is told the dat it got.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property

from board.formats import dat as datformat
from board.lib.kept import Kept
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel import projection, queries
from board.store import BaseStore


@dataclass(frozen=True, slots=True)
class Chunk:
    """One page's share of the dat, as the index (or the page itself) describes it."""

    page: int
    fp: str
    size: int
    lines: int


@dataclass(frozen=True)
class Dat:
    """What is known about a dat before reading its bytes."""

    board: str
    key: str
    archived: bool
    updated: int  # ms: the last post or deletion; Last-Modified is made from it
    chunks: tuple[Chunk, ...]
    tail: bytes  # the stop line after a full thread, else b""

    # Computed once: a request asks for them several times (304, 416, Range, headers).

    @cached_property
    def size(self) -> int:
        return sum(c.size for c in self.chunks) + len(self.tail)

    @cached_property
    def lines(self) -> int:
        return sum(c.lines for c in self.chunks) + (1 if self.tail else 0)

    @cached_property
    def etag(self) -> str:
        """Names the bytes: the chunks' fingerprints and the tail."""
        names = ",".join(c.fp for c in self.chunks).encode("ascii") + b"|" + self.tail
        return '"' + hashlib.sha1(names).hexdigest()[:20] + '"'


def board_settings(store: BaseStore, name: str) -> tuple[dict, str] | None:
    """The board's settings and the id of the event that set them (None if there is no such board)."""
    return queries.board_settings(store, name)


def _served(entries: dict[int, o.State]) -> tuple[Chunk, ...]:
    """The chunks a reader gets: page 0, then each next page while the one before is full."""
    chunks = []
    page = 0
    while (entry := entries.get(page)) is not None and entry["lines"]:
        chunks.append(Chunk(page, entry["fp"], entry["size"], entry["lines"]))
        if entry["lines"] < o.POSTS_PER_PAGE:
            break
        page += 1
    return tuple(chunks)


def _tail(lines: int, board: dict) -> bytes:
    return datformat.encode(datformat.stop_line(board["res_max"])) if lines >= board["res_max"] else b""


# The dat each thread's header last described, kept while the header's bytes and the board's
# res_max stay the same: a poll then builds nothing (chunks, ETag, stop line) and parses nothing.
# Bounded in bytes: an entry is the header's bytes and the Dat (a few KB for a 1000-post thread).
DATS_BYTES = 2 * 1024 * 1024
CHUNK_BYTES = 200  # what a Chunk takes in memory, about


def _dat_size(kept: tuple[bytes, int, Dat | None]) -> int:
    raw, _, dat = kept
    return len(raw) + (CHUNK_BYTES * len(dat.chunks) + len(dat.tail) if dat is not None else 0)


_dats = Kept(DATS_BYTES, _dat_size)


def open_dat(store: BaseStore, board_name: str, key: str) -> Dat | None:
    """The dat of a thread, or None if the board or thread does not exist (or has no post yet)."""
    found = board_settings(store, board_name)
    if found is None:
        return None
    board, _ = found
    slot = o.thread_key(board_name, key)
    value = projection.read(store, o.THREAD, slot)
    if value is None:
        return None
    raw = e.raw_header(value)
    kept = _dats.get(slot)
    if kept is not None and kept[0] == raw and kept[1] == board["res_max"]:
        return kept[2]
    dat = _described(board_name, key, e.read_header(o.THREAD, slot, value)[0], board)
    _dats.put(slot, (raw, board["res_max"], dat))
    return dat


def _described(board_name: str, key: str, index: o.State, board: dict) -> Dat | None:
    """The dat a thread object's header describes (its posts are not decoded)."""
    if not (index.get("thread") or {}).get("title"):
        return None
    chunks = _served({int(p): e for p, e in index.get("pages", {}).items()})
    if not chunks:
        return None
    thread = index["thread"]
    lines = sum(c.lines for c in chunks)
    return Dat(board_name, key, thread["state"] == "archived", thread["updated"], chunks, _tail(lines, board))


def read(store: BaseStore, dat: Dat, start: int = 0) -> tuple[Dat, bytes]:
    """The dat's bytes from ``start`` on, and the dat they belong to.

    That is ``dat`` itself unless the index was behind the pages; then it is
    the dat rebuilt from the pages, and the caller must judge the request
    (304, 416, the range) again against it.
    """
    offset, wanted = 0, []
    for chunk in dat.chunks:
        if offset + chunk.size > start:
            wanted.append((chunk, offset))
        offset += chunk.size
    if not wanted:  # a poll for the last byte of a full thread wants the stop line alone: no store request
        return dat, dat.tail[max(start - offset, 0) :]
    values = _fetch_pages(store, dat, [c.page for c, _ in wanted])
    parts = []
    for chunk, _ in wanted:
        value = values.get(chunk.page)
        if value is None:
            return _rebuilt(store, dat, start)
        header, at = e.read_header(o.POSTS, o.posts_key(dat.board, dat.key, chunk.page), value)
        if header["fp"] != chunk.fp:
            return _rebuilt(store, dat, start)
        parts.append(memoryview(value)[at : at + header["dat"]])
    # Cut before joining: a poll for the last byte copies that byte, not its page's share.
    parts[0] = parts[0][max(start - wanted[0][1], 0) :]
    return dat, b"".join((*parts, dat.tail))


def _fetch_pages(store: BaseStore, dat: Dat, pages: list[int]) -> dict[int, bytes]:
    keys = {o.posts_key(dat.board, dat.key, p): p for p in pages}
    return {keys[key]: value for key, value in projection.read_many(store, o.POSTS, keys).items()}


def _rebuilt(store: BaseStore, dat: Dat, start: int) -> tuple[Dat, bytes]:
    """The dat as the pages themselves have it; the index is repaired on the way."""
    # One page past what the index knows: the index may have missed a whole page.
    values = _fetch_pages(store, dat, list(range(len(dat.chunks) + 1)))
    entries = {page: e.page_entry(value) for page, value in values.items()}
    if entries:
        delta = {"pages": {str(page): entry for page, entry in entries.items()}}
        projection.write(store, o.THREAD, o.thread_key(dat.board, dat.key), delta)
    chunks = _served(entries)
    found = board_settings(store, dat.board)
    lines = sum(c.lines for c in chunks)
    tail = _tail(lines, found[0]) if found else dat.tail
    rebuilt = replace(dat, chunks=chunks, tail=tail)
    body = b"".join(e.page_parts(values[c.page])[1] for c in chunks) + tail
    return rebuilt, body[start:]
