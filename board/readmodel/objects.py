"""The objects the store holds, their keys, and how siblings of each merge.

Every object is a join-semilattice: ``join(a, b)`` is commutative, associative
and idempotent. That is what lets Riak keep siblings and lets events be applied
twice or out of order: whatever order the writes land in, the merged object is
the same. Each object stays well under Riak's 1 MB comfort limit (posts are
paged 100 to an object).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

POSTS_PER_PAGE = 100

# Buckets: one per kind of object, so a Riak bucket type can tune each.
BOARDS = "boards"
INDEX = "index"
THREADS = "threads"
POSTS = "posts"

BOARD_INDEX_KEY = "boards"

State = dict[str, Any]


def dumps(state: State) -> bytes:
    return json.dumps(state, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | None) -> State | None:
    return None if data is None else json.loads(data)


def page_of(number: int) -> int:
    return (number - 1) // POSTS_PER_PAGE


def posts_key(board: str, thread: str, page: int) -> str:
    return f"{board}/{thread}/{page}"


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
    posts = dict(a["posts"])
    for number, post in b["posts"].items():
        mine = posts.get(number)
        posts[number] = post if mine is None else join_post(mine, post)
    return {"posts": posts}


JOINS: dict[str, Callable[[State, State], State]] = {
    BOARDS: join_board,
    INDEX: join_index,
    THREADS: join_threads,
    POSTS: join_posts,
}


def merger(bucket: str) -> Callable[[list[bytes]], bytes]:
    """The sibling resolver for a bucket: decode, join all, encode."""
    join = JOINS[bucket]

    def merge(values: list[bytes]) -> bytes:
        states = [json.loads(v) for v in values]
        merged = states[0]
        for state in states[1:]:
            merged = join(merged, state)
        return dumps(merged)

    return merge
