"""Finding posts for moderators: the last days' posts across boards, newest first, filtered.

The store has no queries (and Riak here has no search), so the projection
keeps an index of its own (board/readmodel/moderation.py): per board and JST
day, the 10-minute slots that have posts, and per slot a few shards of post
summaries. A search reads the days it covers, newest first, and stops once a
page of results is full; text is matched in the summaries (the first 200
characters of each body).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.moderation import JST
from board.readmodel.projection import read, read_many
from board.store import get_store

DAYS = 7  # how far back a search without a date looks
PAGE = 100


@dataclass(frozen=True)
class Filters:
    thread: str = ""
    poster: str = ""  # daily ID
    trip: str = ""
    day: date | None = None
    text: str = ""

    def match(self, post: dict) -> bool:
        if self.thread and post.get("t") != self.thread:
            return False
        if self.poster and post.get("id") != self.poster:
            return False
        if self.trip and post.get("trip") != self.trip:
            return False
        return not self.text or self.text in post.get("body", "") or self.text in post.get("name", "")


def days(filters: Filters, today: date | None = None) -> list[str]:
    """The JST days a search reads, newest first."""
    if filters.day is not None:
        return [f"{filters.day:%Y%m%d}"]
    today = today or datetime.now(JST).date()
    return [f"{today - timedelta(days=n):%Y%m%d}" for n in range(DAYS + 1)]


def recent_posts(boards: list[str], filters: Filters, limit: int = PAGE, today: date | None = None) -> list[dict]:
    """Posts of these boards matching filters, newest first, at most limit."""
    store = get_store()
    found: list[dict] = []
    for day in days(filters, today):
        for board in boards:
            index = e.loads(read(store, o.POST_INDEX_DAYS, f"{board}/{day}"))
            if not index:
                continue
            keys = [f"{board}/{slot}" for slot in index["items"]]
            for value in read_many(store, o.POST_INDEX, keys).values():
                state = e.loads(value)
                assert state is not None
                found += [
                    {**p, "board": board} for p in state["posts"].values() if not p.get("deleted") and filters.match(p)
                ]
        if len(found) >= limit:
            break  # days are read newest first: older days cannot come before these
    found.sort(key=lambda p: p["event"], reverse=True)
    return found[:limit]
