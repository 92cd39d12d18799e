"""Reads for the pages and formats: by key only, as Riak allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from board.boards import with_defaults
from board.readmodel import objects as o
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


def _get(store: BaseStore, bucket: str, key: str) -> o.State | None:
    return o.loads(store.get(bucket, key, o.merger(bucket)))


def all_boards(store: BaseStore) -> list[dict[str, Any]]:
    index = _get(store, o.INDEX, o.BOARD_INDEX_KEY) or {"boards": {}}
    return [{"name": name, "title": entry["title"]} for name, entry in sorted(index["boards"].items())]


def board(store: BaseStore, name: str) -> dict[str, Any] | None:
    state = _get(store, o.BOARDS, name)
    return None if state is None else with_defaults({k: v for k, v in state.items() if k != "event"} | {"name": name})


def _thread(board_name: str, key: str, entry: o.State) -> Thread:
    return Thread(board_name, key, entry["title"], entry["count"], entry["bumped"], entry["updated"], entry["state"])


def threads(store: BaseStore, board_name: str, state: str = "live") -> list[Thread]:
    """A board's threads, most recently bumped first (ties: newest thread first)."""
    entries = (_get(store, o.THREADS, board_name) or {"threads": {}})["threads"]
    found = [_thread(board_name, k, e) for k, e in entries.items() if e["state"] == state and e["title"]]
    found.sort(key=lambda t: (t.bumped, t.key), reverse=True)
    return found


def thread(store: BaseStore, board_name: str, key: str) -> Thread | None:
    entries = (_get(store, o.THREADS, board_name) or {"threads": {}})["threads"]
    entry = entries.get(key)
    return None if entry is None or not entry["title"] else _thread(board_name, key, entry)


def is_banned(store: BaseStore, board_name: str, day: str, poster: str) -> bool:
    """Whether the daily ID ``poster`` is banned on the board for the JST day ``day`` (ISO date)."""
    bans = _get(store, o.BANS, board_name)
    return bans is not None and poster in bans["days"].get(day, {})


def posts(store: BaseStore, board_name: str, key: str, numbers: list[int]) -> list[dict[str, Any]]:
    """The posts with these numbers, in the order given; missing ones are left out."""
    pages = sorted({o.page_of(n) for n in numbers})
    keys = [o.posts_key(board_name, key, p) for p in pages]
    merge = o.merger(o.POSTS)
    by_number: dict[str, o.State] = {}
    for fetched in store.fetch_many(o.POSTS, keys).values():
        value = fetched.values[0] if len(fetched.values) == 1 else merge(list(fetched.values))
        by_number.update(o.loads(value)["posts"])
    return [by_number[str(n)] for n in numbers if str(n) in by_number]
