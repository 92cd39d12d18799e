"""How an event changes the read model.

Each event becomes a few *deltas*: small objects joined into what the store
holds (see objects.py). Applying is therefore idempotent and order-free: an
event applied twice, or after a later one, leaves the same state. Live fan-out
applies one event at a time; rehydrate folds many into a bounded write-back
cache and flushes it in batches.
"""

from __future__ import annotations

from collections.abc import Iterator

from board.events import Event, EventType
from board.readmodel import objects as o
from board.store import BaseStore

Delta = tuple[str, str, o.State]


def thread_entry(
    title: str = "", created: int = 0, count: int = 0, bumped: str = "", updated: int = 0, state: str = "live"
) -> o.State:
    return {
        "title": title,
        "created": created,
        "count": count,
        "bumped": bumped,
        "updated": updated,
        "state": state,
    }


def post_state(event: Event) -> o.State:
    p = event.payload
    return {
        "number": event.number,
        "name": p["name"],
        "mail": p["mail"],
        "time": event.time,
        "id": p.get("id", ""),
        "body": p["body"],
        "event": event.id,
    }


def deltas(event: Event) -> Iterator[Delta]:
    """The objects an event touches and what it joins into each."""
    board, thread = event.board, event.thread
    if event.type == EventType.BOARD_CREATED:
        yield o.BOARDS, board, {**event.payload, "name": board, "event": event.id}
        yield (
            o.INDEX,
            o.BOARD_INDEX_KEY,
            {"boards": {board: {"title": event.payload["title"], "event": event.id}}},
        )
    elif event.type in (EventType.THREAD_CREATED, EventType.POST_CREATED):
        assert thread is not None and event.number is not None
        sage = "sage" in event.payload["mail"].lower()
        entry = thread_entry(
            count=event.number,
            bumped="" if sage else event.id,
            updated=event.time,
        )
        if event.type == EventType.THREAD_CREATED:
            entry.update(title=event.payload["subject"], created=int(thread), bumped=event.id)
        yield o.THREADS, board, {"threads": {thread: entry}}
        page = o.posts_key(board, thread, o.page_of(event.number))
        yield o.POSTS, page, {"posts": {str(event.number): post_state(event)}}
    elif event.type == EventType.THREAD_ARCHIVED:
        assert thread is not None
        yield o.THREADS, board, {"threads": {thread: thread_entry(state="archived")}}
    elif event.type == EventType.POST_DELETED:
        assert thread is not None and event.number is not None
        tombstone = {
            "number": event.number,
            "deleted": True,
            "event": event.id,
            "reason": event.payload.get("reason", ""),
        }
        page = o.posts_key(board, thread, o.page_of(event.number))
        yield o.POSTS, page, {"posts": {str(event.number): tombstone}}
        # The thread's "updated" moves so that caches and dat readers notice.
        yield o.THREADS, board, {"threads": {thread: thread_entry(updated=event.time)}}


def join_into(bucket: str, current: bytes | None, delta: o.State) -> bytes:
    if current is None:
        return o.dumps(delta)
    return o.dumps(o.JOINS[bucket](o.loads(current), delta))


def apply(store: BaseStore, event: Event) -> None:
    """Apply one event to the store (live fan-out). Safe to repeat."""
    for bucket, key, delta in deltas(event):
        store.update(bucket, key, lambda current, b=bucket, d=delta: join_into(b, current, d), o.merger(bucket))


class BatchApplier:
    """Folds many events into a bounded write-back cache, then flushes it.

    Memory stays bounded by ``max_objects`` however long the stream is; the
    flush joins with what the store holds, so a concurrent writer loses nothing.
    """

    def __init__(self, store: BaseStore, max_objects: int = 2000) -> None:
        self.store = store
        self.max_objects = max_objects
        self.pending: dict[tuple[str, str], o.State] = {}
        self.applied = 0

    def add(self, event: Event) -> None:
        for bucket, key, delta in deltas(event):
            slot = (bucket, key)
            mine = self.pending.get(slot)
            self.pending[slot] = delta if mine is None else o.JOINS[bucket](mine, delta)
        self.applied += 1
        if len(self.pending) >= self.max_objects:
            self.flush()

    def flush(self) -> None:
        with self.store.batch():
            for (bucket, key), state in self.pending.items():
                self.store.update(bucket, key, lambda cur, b=bucket, s=state: join_into(b, cur, s), o.merger(bucket))
        self.pending.clear()

    def __enter__(self) -> BatchApplier:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()
