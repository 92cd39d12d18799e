"""How an event changes the read model.

Each event becomes a few *deltas*: small objects joined into what the store
holds (see objects.py). Applying is therefore idempotent and order-free: an
event applied twice, or after a later one, leaves the same state. Live
fan-out applies one event at a time (``apply``); rehydrate, rollup and
follow fold many into a bounded write-back cache (batch.py).

Some writes are derived from what an earlier write left, not from the event:

- a posts page's dat size and fingerprint go into its thread object, so a dat
  is served from stored bytes;
- a board's live list, and for an archived thread its archive window and
  month, take the thread's entry *as its thread object now holds it*. The
  thread object is the authority on a thread's state: an old event applied
  again (rollup, reconcile, ``rehydrate --merge``) finds the thread archived
  there and cannot bring it back into the live list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from board.boards import DEFAULTS
from board.events import Event, EventType
from board.readmodel import boardcache, moderation
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.store import BaseStore

Delta = tuple[str, str, o.State]


def merger(bucket: str, key: str) -> Callable[[list[bytes]], bytes]:
    """The sibling resolver of one object: decode, join all, encode."""
    join = o.JOINS[bucket]

    def merge(values: list[bytes]) -> bytes:
        states = [e.loads(v) for v in values]
        merged = states[0]
        for state in states[1:]:
            merged = join(merged, state)
        return e.encode(bucket, key, merged)

    return merge


def read(store: BaseStore, bucket: str, key: str) -> bytes | None:
    """One object's value, siblings merged."""
    return store.get(bucket, key, merger(bucket, key))


def read_many(store: BaseStore, bucket: str, keys: Iterable[str]) -> dict[str, bytes]:
    """The values of the keys that exist, siblings merged: one batch (a statement, parallel GETs)."""
    found = {}
    for key, fetched in store.fetch_many(bucket, keys).items():
        values = fetched.values
        found[key] = values[0] if len(values) == 1 else merger(bucket, key)(list(values))
    return found


def post_state(event: Event) -> o.State:
    p = event.payload
    state = {
        "number": event.number,
        "name": p["name"],
        "mail": p["mail"],
        "time": event.time,
        "id": p.get("id", ""),
        "body": p["body"],
        "event": event.id,
    }
    if "weekdays" in p:  # the board's own weekday names, as they were when the post was made
        state["weekdays"] = p["weekdays"]
    return state


def _tombstone(event: Event, reason: str, purged: bool = False) -> o.State:
    """A deleted post as pages hold it: its number, the event that deleted it, and whether that was a purge."""
    tombstone = {"number": event.number, "deleted": True, "event": event.id, "reason": reason}
    # Marked so that a purge asked for again is refused (board/moderation/purge.py); pages ignore it.
    return (tombstone | {"purged": True}) if purged else tombstone


def _thread_delta(number: int, post: o.State, entry: o.State) -> o.State:
    delta: o.State = {"thread": entry, "recent": {str(number): post}}
    if number == 1:
        delta["first"] = post
    return delta


def deltas(event: Event, index: bool = True) -> Iterator[Delta]:
    """The objects an event touches and what it joins into each (derived writes come after, see apply).

    ``index=False`` leaves out the moderators' search index (a restore process that does not own the
    post's index shard, board/lifecycle/shards.py).
    """
    board, thread = event.board, event.thread
    if event.type in (EventType.BOARD_CREATED, EventType.BOARD_SETTINGS_CHANGED):
        given = {k: v for k, v in event.payload.items() if k in DEFAULTS}
        values = {**DEFAULTS, **given} if event.type == EventType.BOARD_CREATED else given
        yield o.BOARDS, board, {"s": {k: [event.id, v] for k, v in values.items()}}
        if "title" in values:
            yield o.INDEX, o.BOARD_INDEX_KEY, {"boards": {board: {"title": values["title"], "event": event.id}}}
        if "res_max" in values:
            yield o.THREADS, board, {"threads": {}, "settings": {"event": event.id, "res_max": values["res_max"]}}
    elif event.type in (EventType.THREAD_CREATED, EventType.POST_CREATED):
        assert thread is not None and event.number is not None
        sage = "sage" in event.payload["mail"].lower()
        entry = o.thread_entry(count=event.number, bumped="" if sage else event.id, updated=event.time)
        # A purged post read back from the log (board/lifecycle/purgelist.py) is あぼーん even in a
        # restore to a time before its deletion: its text is gone, an empty post would say otherwise.
        # So is a void, the number of a post that was never written (board/posting/numbers.py).
        gone = event.payload.get("purged") or event.payload.get("void")
        post = _tombstone(event, "") if gone else post_state(event)
        page: o.State = {"posts": {str(event.number): post}}
        if event.type == EventType.THREAD_CREATED:
            entry.update(title=event.payload["subject"], created=int(thread), bumped=event.id)
            # The dat's first line carries the title; the page keeps it even if post 1 is deleted.
            page["title"] = event.payload["subject"]
            if event.payload.get("purged"):
                entry["title_purged"] = page["title_purged"] = True
        yield o.POSTS, o.posts_key(board, thread, o.page_of(event.number)), page
        yield o.THREAD, o.thread_key(board, thread), _thread_delta(event.number, post, entry)
    elif event.type in (EventType.THREAD_ARCHIVED, EventType.THREAD_RESTORED):
        assert thread is not None
        # Falling is a change too: subject.txt loses the thread, so its Last-Modified must move.
        state = "archived" if event.type == EventType.THREAD_ARCHIVED else "live"
        entry = o.thread_entry(state=state, state_event=event.id, updated=event.time)
        yield o.THREAD, o.thread_key(board, thread), {"thread": entry}
    elif event.type in (EventType.THREAD_STOPPED, EventType.THREAD_RESUMED):
        assert thread is not None
        stopped = event.type == EventType.THREAD_STOPPED
        entry = o.thread_entry(stopped=stopped, stop_event=event.id, updated=event.time)
        yield o.THREAD, o.thread_key(board, thread), {"thread": entry}
    elif event.type in (EventType.POSTER_BANNED, EventType.BAN_LIFTED):
        p = event.payload
        banned = event.type == EventType.POSTER_BANNED
        yield o.BANS, o.bans_key(board, p["day"]), {"ids": {p["poster"]: [event.id, banned]}}
    elif event.type in (EventType.POST_DELETED, EventType.POST_PURGED):
        assert thread is not None and event.number is not None
        tombstone = _tombstone(event, event.payload.get("reason", ""), event.type == EventType.POST_PURGED)
        # Purging the first post takes the thread's title with it, wherever the title is kept.
        title_purged = event.type == EventType.POST_PURGED and event.number == 1
        page = {"posts": {str(event.number): tombstone}} | ({"title_purged": True} if title_purged else {})
        yield o.POSTS, o.posts_key(board, thread, o.page_of(event.number)), page
        # The thread's "updated" moves so that caches and dat readers notice.
        entry = o.thread_entry(updated=event.time, title_purged=title_purged)
        yield o.THREAD, o.thread_key(board, thread), _thread_delta(event.number, tombstone, entry)

    yield from moderation.deltas(event, index)


def listed(board: str, thread: str, entry: o.State) -> Iterator[Delta]:
    """Where a thread's entry, as its thread object holds it, goes: the live list, and the archive once fallen."""
    yield o.THREADS, board, {"threads": {thread: entry}}
    if entry.get("state_event"):  # fallen, or back from the archive: the archive follows
        # The month's index lists the window whether the thread is there now or came back
        # (the archive page shows only fallen ones): it only grows, so any order gives one index.
        yield o.ARCHIVE, o.archive_key(board, thread), {"threads": {thread: entry}}
        month = o.month_of(thread)
        yield o.KAKO, f"{board}/{month}", {"items": [o.window_of(thread)]}
        yield o.KAKO, board, {"items": [month]}


def join_into(bucket: str, key: str, current: bytes | None, delta: o.State) -> bytes:
    """The value after joining delta into current (current itself when nothing changes)."""
    if current is None:
        return e.encode(bucket, key, o.JOINS[bucket](delta, delta))
    state = e.loads(current)
    joined = o.JOINS[bucket](state, delta)
    # Re-applying an event changes nothing: hand back the stored bytes rather than
    # render them again, unless other code rendered them.
    if joined == state and not e.stale(bucket, current):
        return current
    return e.encode(bucket, key, joined, (state, current))


def write(store: BaseStore, bucket: str, key: str, delta: o.State) -> bytes | None:
    """Join one delta into the store; return the value written (or already there)."""
    return store.update(bucket, key, lambda current: join_into(bucket, key, current, delta), merger(bucket, key))


def settled(store: BaseStore, bucket: str, key: str, written: bytes | None) -> bytes | None:
    """What readers will see at bucket/key after a write that returned ``written``.

    With siblings (Riak) the value this writer wrote may be one of several, so
    it is read back merged: a derived write must describe the object readers
    get, and the later of two racing writers reads both.
    """
    return read(store, bucket, key) if store.makes_siblings else written


def page_sizes(page_key: str, value: bytes) -> tuple[str, o.State]:
    """The thread object delta recording a page's dat chunk (fp, size, lines)."""
    board, thread, page = o.split_posts_key(page_key)
    return o.thread_key(board, thread), {"pages": {str(page): e.page_entry(value)}}


def apply(store: BaseStore, event: Event) -> None:
    """Apply one event to the store (live fan-out). Safe to repeat."""
    if event.type in (EventType.BOARD_CREATED, EventType.BOARD_SETTINGS_CHANGED):
        boardcache.forget(event.board)
    thread_deltas: dict[str, o.State] = {}
    for bucket, key, delta in deltas(event):
        if bucket == o.THREAD:
            thread_deltas[key] = o.join_thread(thread_deltas[key], delta) if key in thread_deltas else delta
            continue
        written = settled(store, bucket, key, write(store, bucket, key, delta))
        if bucket == o.POSTS and written is not None:
            target, sizes = page_sizes(key, written)
            thread_deltas[target] = o.join_thread(thread_deltas[target], sizes) if target in thread_deltas else sizes
    for key, delta in thread_deltas.items():
        value = settled(store, o.THREAD, key, write(store, o.THREAD, key, delta))
        state = e.loads(value)
        if state and state.get("thread"):
            board, thread = o.split_thread_key(key)
            for bucket, list_key, listed_delta in listed(board, thread, state["thread"]):
                write(store, bucket, list_key, listed_delta)
