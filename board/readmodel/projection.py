"""How an event changes the read model.

Each event becomes a few *deltas*: small objects joined into what the store
holds (see objects.py). Applying is therefore idempotent and order-free: an
event applied twice, or after a later one, leaves the same state. Live fan-out
applies one event at a time; rehydrate folds many into a bounded write-back
cache and flushes it in batches.

Writing a posts page also records the size of its dat chunk in the thread's
DATS object (a derived write, see ``dat_index_delta``), so that the dat is
served from stored bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from board.events import Event, EventType
from board.readmodel import objects as o
from board.store import BaseStore, Conflict

Delta = tuple[str, str, o.State]

FETCH_CHUNK = 500  # keys per multi-get when a batch is written


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
        page_delta: o.State = {"posts": {str(event.number): post_state(event)}}
        if event.type == EventType.THREAD_CREATED:
            entry.update(title=event.payload["subject"], created=int(thread), bumped=event.id)
            # The dat's first line carries the title; the page keeps it even if post 1 is deleted.
            page_delta["title"] = event.payload["subject"]
        yield o.THREADS, board, {"threads": {thread: entry}}
        yield o.POSTS, o.posts_key(board, thread, o.page_of(event.number)), page_delta
        # After the page: a dat's Last-Modified never runs ahead of its bytes.
        yield o.DATS, o.dat_key(board, thread), {"thread": entry}
    elif event.type == EventType.THREAD_ARCHIVED:
        assert thread is not None
        # Falling is a change too: subject.txt loses the thread, so its Last-Modified must move.
        fallen = thread_entry(state="archived", updated=event.time)
        yield o.THREADS, board, {"threads": {thread: fallen}}
        yield o.DATS, o.dat_key(board, thread), {"thread": fallen}
    elif event.type == EventType.POSTER_BANNED:
        p = event.payload
        yield o.BANS, board, {"days": {p["day"]: {p["poster"]: event.id}}}
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
        yield o.DATS, o.dat_key(board, thread), {"thread": thread_entry(updated=event.time)}


def join_into(bucket: str, current: bytes | None, delta: o.State) -> bytes:
    if current is None:
        return o.encode(bucket, delta)
    state = o.loads(current)
    joined = o.JOINS[bucket](state, delta)
    # Re-applying an event changes nothing: hand back the stored bytes rather than
    # encode again (for a page that is rendering its dat chunk). A page stored
    # before pages had chunks is encoded anew, so it gains one.
    if joined == state and (bucket != o.POSTS or o.FRAME in current):
        return current
    return o.encode(bucket, joined)


def write(store: BaseStore, bucket: str, key: str, delta: o.State) -> bytes | None:
    """Join one delta into the store; return the value written (or already there)."""
    return store.update(bucket, key, lambda current: join_into(bucket, current, delta), o.merger(bucket))


def dat_index_delta(store: BaseStore, page_key: str, written: bytes | None) -> tuple[str, o.State] | None:
    """The DATS delta recording a just-written page's chunk size; None if nothing was written.

    With siblings (Riak) the value this writer wrote may be one of several,
    so the page is read back merged: the index must describe the page readers
    will see, and the later of two racing writers reads both.
    """
    if store.makes_siblings:
        written = store.get(o.POSTS, page_key, o.merger(o.POSTS))
    if written is None:
        return None
    board, thread, page = o.split_posts_key(page_key)
    return o.dat_key(board, thread), {"pages": {str(page): o.page_entry(written)}}


def _join_delta(held: o.State | None, delta: o.State) -> o.State:
    return delta if held is None else o.join_dats(held, delta)


def apply(store: BaseStore, event: Event) -> None:
    """Apply one event to the store (live fan-out). Safe to repeat."""
    derived: dict[str, o.State] = {}
    for bucket, key, delta in deltas(event):
        if bucket == o.DATS and key in derived:
            delta = o.join_dats(delta, derived.pop(key))  # one write for the entry and the page sizes
        written = write(store, bucket, key, delta)
        if bucket == o.POSTS and (found := dat_index_delta(store, key, written)) is not None:
            derived[found[0]] = _join_delta(derived.get(found[0]), found[1])
    for key, delta in derived.items():
        write(store, o.DATS, key, delta)


def _absorb(bucket: str, held: o.State, delta: o.State) -> o.State:
    """Join delta into held, a state the applier owns, in place where the object grows.

    A board's thread list and a posts page gain an entry per event; joining
    them by copying (o.JOINS) costs their whole size on every event. Here the
    entry is joined into the held map (or a dat index's thread entry replaced
    by its join), with the same per-entry join, so the result equals
    ``o.JOINS[bucket](held, delta)``. Any other delta (a page's title, a
    page sizes) takes the general join.
    """
    if bucket == o.THREADS and len(delta) == 1:
        entries = held["threads"]
        for key, entry in delta["threads"].items():
            mine = entries.get(key)
            entries[key] = entry if mine is None else o.join_thread_entry(mine, entry)
        return held
    if bucket == o.POSTS and len(delta) == 1:
        posts = held["posts"]
        for number, post in delta["posts"].items():
            mine = posts.get(number)
            posts[number] = post if mine is None else o.join_post(mine, post)
        return held
    if bucket == o.DATS and len(delta) == 1 and "thread" in delta:
        mine = held.get("thread")
        held["thread"] = delta["thread"] if mine is None else o.join_thread_entry(mine, delta["thread"])
        return held
    return o.JOINS[bucket](held, delta)


def _thread_of(bucket: str, key: str) -> tuple[str, str] | None:
    """The thread a posts page or dat index belongs to (None for board-level objects)."""
    if bucket == o.POSTS:
        board, thread, _ = key.split("/")
        return board, thread
    if bucket == o.DATS:
        board, _, thread = key.partition("/")
        return board, thread
    return None


class BatchApplier:
    """Folds many events into a bounded write-back cache, then flushes it.

    Memory stays bounded by ``max_objects`` however long the stream is; the
    flush joins with what the store holds, so a concurrent writer loses nothing.

    When the cache is full, the threads touched least recently are written
    out (their pages, then their dat index) until it is half empty; a thread
    still being posted to stays in memory, so its pages are encoded (and their
    dat chunks rendered) once rather than at every flush. Board-level objects
    (a board's thread list) stay until the final flush.
    """

    def __init__(self, store: BaseStore, max_objects: int = 2000) -> None:
        self.store = store
        self.max_objects = max_objects
        self.pending: dict[tuple[str, str], o.State] = {}
        self.threads: OrderedDict[tuple[str, str], list[tuple[str, str]]] = OrderedDict()
        self.applied = 0

    def add(self, event: Event) -> None:
        pending, threads = self.pending, self.threads
        # The thread entry an event joins into its board's list is, in the same
        # event, joined into the thread's dat index too; while both held the same
        # entry object before, the join is computed once (see below).
        shared = before = joined = None
        for bucket, key, delta in deltas(event):
            slot = (bucket, key)
            mine = pending.get(slot)
            if mine is None:
                pending[slot] = delta
                thread = _thread_of(bucket, key)
                if thread is not None:
                    threads.setdefault(thread, []).append(slot)
            elif bucket == o.THREADS and len(delta) == 1:
                entries = mine["threads"]
                for thread_key, entry in delta["threads"].items():
                    before = entries.get(thread_key)
                    entries[thread_key] = joined = entry if before is None else o.join_thread_entry(before, entry)
                    shared = entry
            elif bucket == o.DATS and len(delta) == 1 and "thread" in delta:
                entry, held = delta["thread"], mine.get("thread")
                if entry is shared and held is before and held is not None:
                    mine["thread"] = joined  # join_thread_entry(held, entry), computed for the board's list
                else:
                    mine["thread"] = entry if held is None else o.join_thread_entry(held, entry)
            else:
                pending[slot] = _absorb(bucket, mine, delta)
        if event.thread is not None and (thread := (event.board, event.thread)) in threads:
            threads.move_to_end(thread)
        self.applied += 1
        if len(pending) >= self.max_objects:
            self.evict(len(pending) - self.max_objects // 2)

    def evict(self, count: int) -> None:
        """Write out the least recently touched threads' objects, at least count of them."""
        written = 0
        evicted: dict[tuple[str, str], o.State] = {}
        while written < count and self.threads:
            _, slots = self.threads.popitem(last=False)
            for slot in slots:
                evicted[slot] = self.pending.pop(slot)
            written += len(slots)
        self._write(evicted)

    def flush(self) -> None:
        self._write(self.pending)
        self.pending = {}
        self.threads.clear()

    def _write(self, states: dict[tuple[str, str], o.State]) -> None:
        """Write states: pages before the DATS objects, so each thread's index is written once, with its page sizes."""
        by_bucket: dict[str, dict[str, o.State]] = {}
        for (bucket, key), state in states.items():
            by_bucket.setdefault(bucket, {})[key] = state
        derived: dict[str, o.State] = {}
        for bucket, items in by_bucket.items():
            if bucket == o.DATS:
                continue
            for key, written in self._write_bucket(bucket, items).items():
                if bucket == o.POSTS and (found := dat_index_delta(self.store, key, written)) is not None:
                    derived[found[0]] = _join_delta(derived.get(found[0]), found[1])
        dats = {key: _join_delta(derived.pop(key, None), state) for key, state in by_bucket.get(o.DATS, {}).items()}
        dats.update(derived)
        self._write_bucket(o.DATS, dats)

    def _write_bucket(self, bucket: str, items: dict[str, o.State]) -> dict[str, bytes | None]:
        """Join each state into its stored object; return what each object now holds.

        The objects are fetched together (one query per chunk on SQLite, a
        multi-get on Riak) and the new values encoded before the store's batch
        opens, so the batch (SQLite's write lock) is held only for the writes.
        Each write is conditional on what was fetched; one that lost a race
        goes through update()'s loop.
        """
        written: dict[str, bytes | None] = {}
        merge = o.merger(bucket)
        keys = list(items)
        for start in range(0, len(keys), FETCH_CHUNK):
            chunk = keys[start : start + FETCH_CHUNK]
            fetched = self.store.fetch_many(bucket, chunk)
            writes = []
            for key in chunk:
                found = fetched.get(key)
                if found is None:
                    current, context = None, None
                else:
                    values = found.values
                    current, context = (values[0] if len(values) == 1 else merge(list(values))), found.context
                new = join_into(bucket, current, items[key])
                if found is not None and new == current and len(found.values) == 1:
                    written[key] = current
                else:
                    writes.append((key, new, context))
            with self.store.batch():
                for key, new, context in writes:
                    try:
                        self.store.store(bucket, key, new, context)
                        written[key] = new
                    except Conflict:
                        written[key] = write(self.store, bucket, key, items[key])
        return written

    def __enter__(self) -> BatchApplier:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()
