"""Reads for the pages and formats: by key only, as Riak allows.

A read costs a fixed number of store requests whatever the board's age: a
board's settings (kept in this process for SETTINGS_TTL), one thread object,
the posts pages a range needs, one live list. README, "Store requests per
read", lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from board.boards import with_defaults
from board.readmodel import boardcache
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import merger, read
from board.store import BaseStore


@dataclass(frozen=True, slots=True)
class Thread:
    board: str
    key: str
    title: str
    count: int
    bumped: str  # the id of the last bumping post: ids sort in commit order
    updated: int
    state: str

    @property
    def archived(self) -> bool:
        return self.state == "archived"


def _thread(board_name: str, key: str, entry: o.State) -> Thread:
    return Thread(board_name, key, entry["title"], entry["count"], entry["bumped"], entry["updated"], entry["state"])


def _get(store: BaseStore, bucket: str, key: str) -> o.State | None:
    return e.loads(read(store, bucket, key))


# --- boards -----------------------------------------------------------------------------


def board_settings(store: BaseStore, name: str) -> tuple[dict, str] | None:
    """The board's settings and the id of the event that set them (None if there is no such board).

    Kept in this process for UTAKATA_SETTINGS_TTL seconds (boardcache.py):
    every page reads them, and they change once in a long while.
    """
    found = boardcache.get(store, name)
    if found is not None:
        return found
    state = _get(store, o.BOARDS, name)
    if state is None:
        return None  # not kept: a board that does not exist yet may be created any moment
    value = with_defaults({k: v for k, v in state.items() if k != "event"} | {"name": name}), state["event"]
    boardcache.put(store, name, value)
    return value


def board(store: BaseStore, name: str) -> dict[str, Any] | None:
    found = board_settings(store, name)
    return None if found is None else found[0]


def all_boards(store: BaseStore) -> list[dict[str, Any]]:
    index = _get(store, o.INDEX, o.BOARD_INDEX_KEY) or {"boards": {}}
    return [{"name": name, "title": entry["title"]} for name, entry in sorted(index["boards"].items())]


def board_index(store: BaseStore) -> o.State:
    return _get(store, o.INDEX, o.BOARD_INDEX_KEY) or {"boards": {}}


# --- threads ------------------------------------------------------------------------------


def thread_value(store: BaseStore, board_name: str, key: str) -> bytes | None:
    """The stored thread object (entry, dat sizes, post 1 and the last posts with their HTML)."""
    return read(store, o.THREAD, o.thread_key(board_name, key))


def thread(store: BaseStore, board_name: str, key: str, value: bytes | None = None) -> Thread | None:
    """A thread from its own object (one small read, whatever the size of the board)."""
    value = value if value is not None else thread_value(store, board_name, key)
    entry = e.split(value)[0].get("thread") if value is not None else None
    return None if entry is None or not entry["title"] else _thread(board_name, key, entry)


@dataclass(frozen=True, slots=True)
class LiveList:
    """A board's live list as stored: subject.txt and the board top's menu, already formatted."""

    header: o.State
    data: bytes

    @property
    def updated(self) -> int:
        return self.header.get("updated", 0)

    @property
    def live(self) -> int:
        return self.header.get("live", 0)

    @property
    def subject(self) -> bytes:
        return self.data[: self.header.get("subject", 0)]

    @property
    def menu(self) -> bytes:
        """The first encoding.MENU threads as links (UTF-8 HTML)."""
        return self.data[self.header.get("subject", 0) :]

    def top(self, count: int) -> list[str]:
        """The keys of the first ``count`` live threads (at most encoding.MENU)."""
        return self.header.get("top", [])[:count]


def live_list(store: BaseStore, board_name: str) -> LiveList:
    """A board's live list, without decoding its entries (one read)."""
    value = read(store, o.THREADS, board_name)
    if value is None:
        return LiveList({}, b"")
    if e.stale(o.THREADS, value):
        value = e.encode(o.THREADS, board_name, e.loads(value))
    header, data = e.split(value)
    return LiveList(header, data)


def threads(store: BaseStore, board_name: str) -> list[Thread]:
    """Every live thread of a board, most recently bumped first (decodes the whole list)."""
    state = _get(store, o.THREADS, board_name) or {"threads": {}}
    return [_thread(board_name, k, entry) for k, entry in e.live_rows(state)]


def archive_months(store: BaseStore, board_name: str) -> list[str]:
    """The months (YYYY-MM, newest first) with threads in the archive."""
    state = _get(store, o.KAKO, board_name)
    return sorted(state["items"], reverse=True) if state else []


def archived(store: BaseStore, board_name: str, month: str) -> list[Thread]:
    """The archived threads created in a month, newest first."""
    windows = _get(store, o.KAKO, f"{board_name}/{month}")
    if not windows:
        return []
    found = []
    keys = [f"{board_name}/{w}" for w in windows["items"]]
    for key, fetched in store.fetch_many(o.ARCHIVE, keys).items():
        values = fetched.values
        state = e.loads(values[0] if len(values) == 1 else merger(o.ARCHIVE, key)(list(values)))
        assert state is not None
        found += [_thread(board_name, k, entry) for k, entry in state["threads"].items() if o.month_of(k) == month]
    found.sort(key=lambda t: t.key, reverse=True)
    return found


def is_banned(store: BaseStore, board_name: str, day: str, poster: str) -> bool:
    """Whether the daily ID ``poster`` is banned on the board for the JST day ``day`` (ISO date)."""
    bans = _get(store, o.BANS, o.bans_key(board_name, day))
    return bans is not None and poster in bans["ids"]


# --- posts -------------------------------------------------------------------------------


def _pages(store: BaseStore, board_name: str, key: str, numbers: list[int]) -> dict[int, bytes]:
    pages = sorted({o.page_of(n) for n in numbers})
    keys = {o.posts_key(board_name, key, p): p for p in pages}
    found = {}
    for page_key, fetched in store.fetch_many(o.POSTS, keys).items():
        values = fetched.values
        found[keys[page_key]] = values[0] if len(values) == 1 else merger(o.POSTS, page_key)(list(values))
    return found


def posts(store: BaseStore, board_name: str, key: str, numbers: list[int]) -> list[dict[str, Any]]:
    """The posts with these numbers, in the order given; missing ones are left out."""
    by_number: dict[str, o.State] = {}
    for value in _pages(store, board_name, key, numbers).values():
        state = e.loads(value)
        assert state is not None
        by_number.update(state["posts"])
    return [by_number[str(n)] for n in numbers if str(n) in by_number]


def posts_html(
    store: BaseStore, board_name: str, key: str, numbers: list[int], thread_object: bytes | None = None
) -> bytes:
    """The stored HTML of these posts, in the order given (UTF-8); missing ones are left out.

    Post 1 comes from the thread object when it is given (an ``l50`` page then
    reads only the pages of its last posts). A page rendered by other code is
    rendered again here.
    """
    fragments: dict[int, bytes] = {}
    if thread_object is not None and 1 in numbers:
        fragments.update(e.html_map(_fresh(o.THREAD, o.thread_key(board_name, key), thread_object), [1]))
    wanted = [n for n in numbers if n not in fragments]
    by_page: dict[int, list[int]] = {}
    for n in wanted:
        by_page.setdefault(o.page_of(n), []).append(n)
    for page, value in _pages(store, board_name, key, wanted).items():
        fragments.update(e.html_map(_fresh(o.POSTS, o.posts_key(board_name, key, page), value), by_page[page]))
    return b"".join(fragments[n] for n in numbers if n in fragments)


def recent_html(board_name: str, key: str, thread_object: bytes, numbers: list[int]) -> bytes:
    """Board-top digests: post 1 and the last posts, all from the thread object."""
    fragments = e.html_map(_fresh(o.THREAD, o.thread_key(board_name, key), thread_object), numbers)
    return b"".join(fragments[n] for n in numbers if n in fragments)


def _fresh(bucket: str, key: str, value: bytes) -> bytes:
    """The value with bytes this code renders (a page rendered by another version is rendered again)."""
    if not e.stale(bucket, value):
        return value
    return e.encode(bucket, key, e.loads(value))
