"""The objects the store holds, their keys, and how siblings of each merge.

Every object is a join-semilattice: ``join(a, b)`` is commutative, associative
and idempotent. That is what lets Riak keep siblings and lets events be applied
twice or out of order: whatever order the writes land in, the merged object is
the same. Each object stays well under Riak's 1 MB comfort limit (posts are
paged 50 to an object, with their dat bytes).

A posts page carries its part of the thread's .dat, already encoded: the page
value is the page's JSON, a NUL, a small JSON header, a NUL, and the dat
bytes of the page's posts (see ``encode_page``). The bytes are a pure function
of the page's state, recomputed whenever the page is encoded, so the page is
still a semilattice and a dat request slices stored bytes instead of
rendering 1000 posts. A small per-thread object in DATS says how many bytes
each page holds, so a Range request reads only the pages it needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from board.formats import dat
from board.formats.dates import DEFAULT_WEEKDAYS

POSTS_PER_PAGE = 50

# Buckets: one per kind of object, so a Riak bucket type can tune each.
BOARDS = "boards"
INDEX = "index"
THREADS = "threads"
POSTS = "posts"
DATS = "dats"  # per thread: its entry and the byte size of each page's dat chunk
BANS = "bans"  # per board: the daily IDs banned, by JST day

BOARD_INDEX_KEY = "boards"

State = dict[str, Any]


def dumps(state: State) -> bytes:
    return json.dumps(state, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | None) -> State | None:
    """Decode a stored value; for a page, only its JSON part (the dat chunk after the NUL is skipped)."""
    if data is None:
        return None
    cut = data.find(FRAME)
    return json.loads(data if cut < 0 else data[:cut])


def page_of(number: int) -> int:
    return (number - 1) // POSTS_PER_PAGE


def posts_key(board: str, thread: str, page: int) -> str:
    return f"{board}/{thread}/{page}"


def split_posts_key(key: str) -> tuple[str, str, int]:
    board, thread, page = key.split("/")
    return board, thread, int(page)


def dat_key(board: str, thread: str) -> str:
    return f"{board}/{thread}"


# --- posts pages and their dat chunks ----------------------------------------

# JSON never holds a raw NUL (json.dumps escapes control characters), so the
# first NUL in a page value ends its JSON, wherever the value came from.
FRAME = b"\x00"


def page_chunk(state: State) -> tuple[State, bytes]:
    """The dat lines of a page's posts, and a header describing them.

    Only the run of posts from the page's first number on is rendered: a
    post applied before the one in front of it waits, so line N of a dat is
    always post N. The header's ``fp`` names the rendering: it grows with the
    page (lines, then deletions, then title) and ends with a digest of what
    the lines depend on, so two pages with one ``fp`` have the same bytes and
    the larger ``fp`` is the more complete page. Each post's date uses the
    weekday names it was committed with, so a line never changes once written
    (as on 2ch, where a setting change affects only later posts).
    """
    posts = state["posts"]
    title = state.get("title", "")
    first = page_of(min(map(int, posts))) * POSTS_PER_PAGE + 1 if posts else 1
    lines: list[str] = []
    deleted: list[int] = []
    number = first
    while number < first + POSTS_PER_PAGE and (post := posts.get(str(number))) is not None:
        line_title = title if number == 1 else ""
        if post.get("deleted"):
            deleted.append(number)
            lines.append(dat.abone_line(line_title))
        else:
            lines.append(dat.post_line(post, line_title, post.get("weekdays", DEFAULT_WEEKDAYS)))
        number += 1
    digest = hashlib.sha1(dumps({"d": deleted, "f": first, "n": len(lines), "t": title})).hexdigest()
    fp = f"{len(lines):03d}{len(deleted):03d}{int(bool(title))}{digest[:12]}"
    return {"fp": fp, "lines": len(lines)}, dat.encode("".join(lines))


def encode_page(state: State) -> bytes:
    """A page's stored value: its JSON, then its dat chunk with the chunk's header."""
    header, chunk = page_chunk(state)
    return dumps(state) + FRAME + dumps(header) + FRAME + chunk


def split_page(value: bytes) -> tuple[State, bytes]:
    """The header and the dat chunk of a stored page, without decoding its posts."""
    first = value.find(FRAME)
    second = value.find(FRAME, first + 1)
    if first < 0 or second < 0:
        raise ValueError("not a posts page with a dat chunk")
    return json.loads(value[first + 1 : second]), value[second + 1 :]


def page_entry(value: bytes) -> State:
    """What the thread's DATS object records about a stored page."""
    header, chunk = split_page(value)
    return {**header, "size": len(chunk)}


def encode(bucket: str, state: State) -> bytes:
    """A state as the bytes stored for it in ``bucket``."""
    return encode_page(state) if bucket == POSTS else dumps(state)


# --- joins ------------------------------------------------------------------


def join_board(a: State, b: State) -> State:
    """Board settings: the one written by the later event wins."""
    return a if a["event"] >= b["event"] else b


def join_index(a: State, b: State) -> State:
    boards = dict(a["boards"])
    for name, entry in b["boards"].items():
        mine = boards.get(name)
        boards[name] = entry if mine is None or entry["event"] > mine["event"] else mine
    return {"boards": boards}


STATE_RANK = {"live": 0, "archived": 1}


def join_thread_entry(a: State, b: State) -> State:
    return {
        "title": a["title"] or b["title"],
        "created": max(a["created"], b["created"]),
        "count": max(a["count"], b["count"]),
        "bumped": max(a["bumped"], b["bumped"]),
        "updated": max(a["updated"], b["updated"]),
        "state": a["state"] if STATE_RANK[a["state"]] >= STATE_RANK[b["state"]] else b["state"],
    }


def join_threads(a: State, b: State) -> State:
    threads = dict(a["threads"])
    for key, entry in b["threads"].items():
        mine = threads.get(key)
        threads[key] = entry if mine is None else join_thread_entry(mine, entry)
    return {"threads": threads}


def join_post(a: State, b: State) -> State:
    """A deletion wins over the post it deletes, whichever arrives first."""
    if a.get("deleted") != b.get("deleted"):
        return a if a.get("deleted") else b
    return a if a.get("event", "") >= b.get("event", "") else b


def join_posts(a: State, b: State) -> State:
    """Posts merge number by number; the title (page 0) rides along."""
    posts = dict(a["posts"])
    for number, post in b["posts"].items():
        mine = posts.get(number)
        posts[number] = post if mine is None else join_post(mine, post)
    joined: State = {"posts": posts}
    # Only ThreadCreated sets a title, so there is one; max() keeps the join commutative anyway.
    title = max(a.get("title", ""), b.get("title", ""))
    if title:
        joined["title"] = title
    return joined


def join_dats(a: State, b: State) -> State:
    """A thread's dat index: its entry joined as in THREADS, each page's entry by the larger fp.

    Page entries with the same fp describe the same bytes (see page_chunk), so
    taking the larger is commutative, associative and idempotent.
    """
    joined: State = {}
    mine, theirs = a.get("thread"), b.get("thread")
    if mine or theirs:
        joined["thread"] = join_thread_entry(mine, theirs) if mine and theirs else mine or theirs
    pages = dict(a.get("pages", {}))
    for page, entry in b.get("pages", {}).items():
        held = pages.get(page)
        pages[page] = entry if held is None or entry["fp"] > held["fp"] else held
    if pages:
        joined["pages"] = pages
    return joined


def join_bans(a: State, b: State) -> State:
    """Bans only accumulate: a ban is lifted by its day ending, not by an edit."""
    days = {day: dict(ids) for day, ids in a["days"].items()}
    for day, ids in b["days"].items():
        held = days.setdefault(day, {})
        for poster, event in ids.items():
            held[poster] = max(held.get(poster, ""), event)
    return {"days": days}


JOINS: dict[str, Callable[[State, State], State]] = {
    BOARDS: join_board,
    INDEX: join_index,
    THREADS: join_threads,
    POSTS: join_posts,
    DATS: join_dats,
    BANS: join_bans,
}


def merger(bucket: str) -> Callable[[list[bytes]], bytes]:
    """The sibling resolver for a bucket: decode, join all, encode."""
    join = JOINS[bucket]

    def merge(values: list[bytes]) -> bytes:
        states = [loads(v) for v in values]
        merged = states[0]
        for state in states[1:]:
            merged = join(merged, state)
        return encode(bucket, merged)

    return merge
