"""Reads for the pages and formats: by key only, as Riak allows.

A read costs a fixed number of store requests whatever the board's age: a
board's settings (kept in this process for SETTINGS_TTL), one thread object,
the posts pages a range needs, one live list. README, "Store requests per
read", lists them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from board.boards import DEFAULTS, with_defaults
from board.readmodel import boardcache
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import read, read_many
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
    stopped: bool = False  # スレスト: a moderator made it read-only

    @property
    def archived(self) -> bool:
        return self.state == "archived"


def _thread(board_name: str, key: str, entry: o.State) -> Thread:
    return Thread(
        board_name,
        key,
        entry["title"],
        entry["count"],
        entry["bumped"],
        entry["updated"],
        entry["state"],
        entry.get("stopped", False),
    )


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
    # A setting this code does not know was set by a newer version (a rolling deploy): not ours to show.
    settings = {key: value for key, (_, value) in state["s"].items() if key in DEFAULTS}
    value = with_defaults(settings | {"name": name}), max(event for event, _ in state["s"].values())
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


def thread_values(store: BaseStore, board_name: str, keys: list[str]) -> dict[str, bytes]:
    """The thread objects of these threads that exist, read in one batch (board tops' digests)."""
    slots = {o.thread_key(board_name, key): key for key in keys}
    return {slots[slot]: value for slot, value in read_many(store, o.THREAD, slots).items()}


def thread(store: BaseStore, board_name: str, key: str, value: bytes | None = None) -> Thread | None:
    """A thread from its own object (one small read, whatever the size of the board)."""
    value = value if value is not None else thread_value(store, board_name, key)
    if value is None:
        return None
    entry = e.read_header(o.THREAD, o.thread_key(board_name, key), value)[0].get("thread")
    return None if entry is None or not entry["title"] else _thread(board_name, key, entry)


@dataclass(frozen=True, slots=True)
class LiveList:
    """A board's live list as stored: subject.txt and the board top's menu, already formatted."""

    header: o.State
    data: bytes
    stored: bytes = b""  # the whole value, for threads() to decode without reading it again

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
    try:
        header, start = e.read_header(o.THREADS, board_name, value)
    except ValueError:  # not framed: written by code from before the bytes were stored
        header, start = {}, 0
    if header.get("r") != e.RENDERER:
        value = e.encode(o.THREADS, board_name, e.loads(value))
        header, start = e.split_at(value)
    return LiveList(header, value[start:], value)


def threads(store: BaseStore, board_name: str, listing: LiveList | None = None) -> list[Thread]:
    """Every live thread of a board, most recently bumped first (decodes the whole list: ``listing``'s if given)."""
    state = (e.loads(listing.stored or None) if listing else _get(store, o.THREADS, board_name)) or {"threads": {}}
    return [_thread(board_name, k, entry) for k, entry in e.live_rows(state)]


def archive_months(store: BaseStore, board_name: str) -> list[str]:
    """The months (YYYY-MM, newest first) with threads in the archive."""
    state = _get(store, o.KAKO, board_name)
    return sorted(state["items"], reverse=True) if state else []


# A page of a month's archive reads its windows newest first, a batch at a time, until it
# holds ARCHIVE_PAGE_THREADS threads or has read ARCHIVE_PAGE_WINDOWS windows: a request's
# work is bounded however many threads the month archived (a thread a second fills a
# window with 1000), and a sparse month still shows a page of threads, not one a window.
ARCHIVE_PAGE_THREADS = 200
ARCHIVE_PAGE_WINDOWS = 50
ARCHIVE_BATCH = 10  # windows fetched at once (parallel GETs on Riak)


@dataclass(frozen=True, slots=True)
class ArchivePage:
    threads: list[Thread]
    older: str | None  # the next page lists the windows before this one; None on the last page


def archived(store: BaseStore, board_name: str, month: str, before: str | None = None) -> ArchivePage:
    """A page of the threads archived from a month, newest first: those of the windows before ``before``.

    A window is shown whole (at most 1000 threads), so a page may hold a few
    more than ARCHIVE_PAGE_THREADS.
    """
    index = _get(store, o.KAKO, f"{board_name}/{month}")
    windows = sorted(
        (w for w in (index or {}).get("items", []) if before is None or int(w) < int(before)), key=int, reverse=True
    )
    found: list[Thread] = []
    done = 0  # windows read
    while done < min(len(windows), ARCHIVE_PAGE_WINDOWS) and len(found) < ARCHIVE_PAGE_THREADS:
        batch = windows[done : min(done + ARCHIVE_BATCH, ARCHIVE_PAGE_WINDOWS)]
        for value in read_many(store, o.ARCHIVE, [f"{board_name}/{w}" for w in batch]).values():
            state = e.loads(value)
            assert state is not None
            found += [
                _thread(board_name, k, entry)
                for k, entry in state["threads"].items()
                if entry["state"] == "archived" and o.month_of(k) == month
            ]
        done += len(batch)
    found.sort(key=lambda t: t.key, reverse=True)
    return ArchivePage(found, windows[done - 1] if done < len(windows) else None)


def is_banned(store: BaseStore, board_name: str, day: str, poster: str) -> bool:
    """Whether the daily ID ``poster`` is banned on the board for the JST day ``day`` (ISO date)."""
    bans = _get(store, o.BANS, o.bans_key(board_name, day))
    found = bans["ids"].get(poster) if bans is not None else None
    return bool(found and found[1])


# --- posts -------------------------------------------------------------------------------


def _pages(store: BaseStore, board_name: str, key: str, pages: list[int]) -> dict[int, bytes]:
    keys = {o.posts_key(board_name, key, p): p for p in pages}
    return {keys[page_key]: value for page_key, value in read_many(store, o.POSTS, keys).items()}


def _ascending(numbers: list[int]) -> bool:
    if numbers and numbers[-1] - numbers[0] + 1 == len(numbers) and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return True  # a run, as most ranges are: checked in C
    return all(a < b for a, b in zip(numbers, numbers[1:], strict=False))


def _by_page(numbers: list[int], ascending: bool | None = None) -> dict[int, list[int]]:
    """The numbers grouped by the page holding them, cheaply when they are in order (ranges are)."""
    if ascending if ascending is not None else _ascending(numbers):
        grouped = {}
        for page in range(o.page_of(numbers[0]), o.page_of(numbers[-1]) + 1) if numbers else ():
            lo = bisect_left(numbers, page * o.POSTS_PER_PAGE + 1)
            hi = bisect_right(numbers, (page + 1) * o.POSTS_PER_PAGE)
            if hi > lo:
                grouped[page] = numbers[lo:hi]
        return grouped
    grouped: dict[int, list[int]] = {}
    for n in numbers:
        grouped.setdefault(o.page_of(n), []).append(n)
    return grouped


def posts(store: BaseStore, board_name: str, key: str, numbers: list[int]) -> list[dict[str, Any]]:
    """The posts with these numbers, in the order given; missing ones are left out."""
    by_number: dict[str, o.State] = {}
    for value in _pages(store, board_name, key, list(_by_page(numbers))).values():
        state = e.loads(value)
        assert state is not None
        by_number.update(state["posts"])
    return [by_number[str(n)] for n in numbers if str(n) in by_number]


def posts_html(
    store: BaseStore, board_name: str, key: str, numbers: list[int], thread_object: bytes | None = None
) -> list[bytes | memoryview]:
    """The stored HTML of these posts, in the order given, as pieces to join (UTF-8); missing ones are left out.

    Post 1 comes from the thread object when it is given (an ``l50`` page then
    reads only the pages of its last posts). A page whose posts are all wanted,
    as a run in order, is taken whole: one slice instead of 25.
    """
    first = []
    if thread_object is not None and numbers[:1] == [1]:
        first = [recent_html(board_name, key, thread_object, [1])]
        numbers = numbers[1:]
    ascending = _ascending(numbers)
    by_page = _by_page(numbers, ascending)
    values = _pages(store, board_name, key, list(by_page))
    pieces: dict[int, memoryview] = {}  # by the first number each piece holds
    for page, value in values.items():
        shown, bounds, html = e.html_parts(o.POSTS, o.posts_key(board_name, key, page), value)
        if not shown:
            continue
        wanted = by_page[page]
        run = wanted[-1] - wanted[0] + 1 == len(wanted) and wanted[0] <= wanted[-1]
        if run and wanted[0] <= shown[0] and shown[-1] <= wanted[-1]:
            pieces[wanted[0]] = html
            continue
        where = {n: i for i, n in enumerate(shown)}
        for n in wanted:
            i = where.get(n)
            if i is not None:
                pieces[n] = html[bounds[i] : bounds[i + 1]]
    if ascending:
        return first + [pieces[n] for n in sorted(pieces)]
    return first + [pieces[n] for n in numbers if n in pieces]


def recent_html(board_name: str, key: str, thread_object: bytes, numbers: list[int]) -> bytes:
    """Board-top digests: post 1 and the last posts, all from the thread object."""
    shown, bounds, html = e.html_parts(o.THREAD, o.thread_key(board_name, key), thread_object)
    where = {n: i for i, n in enumerate(shown)}
    return b"".join(html[bounds[i] : bounds[i + 1]] for n in numbers if (i := where.get(n)) is not None)
