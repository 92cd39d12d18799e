"""Applying many events at once: rehydrate, rollup and follow.

BatchApplier folds events into a bounded write-back cache and writes it out
in bulk: each bucket's objects fetched together and written together (one
transaction on SQLite, parallel requests on Riak). The flush joins with what
the store holds, so a concurrent writer loses nothing, and the derived
writes follow the same order as in projection.apply: pages, then their
thread objects, then the lists the threads' entries go to.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from board.events import Event, EventType
from board.readmodel import boardcache
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import Delta, deltas, join_into, listed, merger, page_sizes, write
from board.store import BaseStore, Fetched

FETCH_CHUNK = 500  # keys per multi-get when a batch is written
WRITTEN_KEPT = 200_000  # keys a fresh batch remembers having written (a few tens of MB at most)

Slot = tuple[str, str]


def _absorb(bucket: str, held: o.State, delta: o.State) -> o.State:
    """Join delta into held, a state the applier owns, in place where the object grows.

    A posts page, or a slot of the search index, gains an entry per event;
    joining by copying (o.JOINS) costs the object's whole size on every
    event. Here the post is joined into the held map with the same per-entry
    join, a thread object takes the delta in place (o.absorb_thread), and a
    new item goes into a sorted list where it belongs, so the result equals
    ``o.JOINS[bucket](held, delta)``. Any other delta takes the general join.
    """
    if bucket == o.THREADS:
        return o.gather_threads(held, delta)
    if bucket in (o.KAKO, o.POST_INDEX_DAYS):
        _insert_sorted(held["items"], delta["items"])
        return held
    if bucket == o.THREAD:
        return o.absorb_thread(held, delta)
    if bucket in (o.POSTS, o.POST_INDEX) and len(delta) == 1:
        posts = held["posts"]
        for number, post in delta["posts"].items():
            mine = posts.get(number)
            posts[number] = post if mine is None else o.join_post(mine, post)
        return held
    return o.JOINS[bucket](held, delta)


def _insert_sorted(items: list[str], new: list[str]) -> None:
    """Put each new item into sorted items (no repeats), as join_kako would, without sorting it all again.

    A day's list of the search index's slots grows to 1,152 items and gains
    one every few events: sorting it whole each time was most of a restore.
    """
    for item in new:
        at = bisect_left(items, item)
        if at == len(items) or items[at] != item:
            items.insert(at, item)


def _gather(bucket: str, held: o.State, delta: o.State) -> o.State:
    """Join deltas the batch holds; a live list's fallen marks are kept until the store's join."""
    return o.gather_threads(held, delta) if bucket == o.THREADS else o.JOINS[bucket](held, delta)


# A board's live list takes every thread's entry and there is one per board: it is held until the
# final flush (written once), whatever the cache evicts meanwhile.
HELD = frozenset({o.THREADS})


def _group_of(bucket: str, key: str) -> Slot:
    """What an object is evicted with: a thread's pages with its thread object (named by its slot), else itself."""
    if bucket == o.POSTS:
        return o.THREAD, key.rpartition("/")[0]  # o.thread_key of the page's thread, without splitting the key
    return bucket, key


class BatchApplier:
    """Folds many events into a bounded write-back cache, then flushes it.

    Memory stays bounded by ``max_objects`` however long the stream is. When
    the cache is full, the objects touched least recently are written out (a
    thread's pages with its thread object) until it is half empty. An object
    is written when it is evicted or at the final flush, never at each
    eviction: a thread still being posted to, or the search index's current
    10 minutes, stays in memory and is written about once. Board-level lists
    a written thread goes to (archive windows, kako) come back into the cache
    the same way; a board's live list (HELD) stays until the final flush.
    """

    def __init__(self, store: BaseStore, max_objects: int = 2000, fresh: bool = False) -> None:
        """``fresh``: the store was empty when this batch began (a restore into a new store), so an
        object this batch has not written yet is written without reading it first. Still correct if
        another writer got there first: SQLite refuses the write and it is retried as a read-modify-
        write, Riak keeps both as siblings that merge."""
        self.store = store
        self.max_objects = max_objects
        self.pending: dict[Slot, o.State] = {}
        # Least recently touched first: each group's slots held in pending (HELD ones are in no group).
        self.groups: OrderedDict[Slot, list[Slot]] = OrderedDict()
        self.applied = 0
        self.fresh = fresh
        self.written: OrderedDict[Slot, None] = OrderedDict()  # what a fresh batch wrote (bounded)

    def add(self, event: Event, found: Iterable[Delta] | None = None) -> None:
        """Fold an event in: its deltas, or those ``found`` (the part of it a restore shard applies)."""
        if event.type in (EventType.BOARD_CREATED, EventType.BOARD_SETTINGS_CHANGED):
            boardcache.forget(event.board)
        pending = self.pending
        for bucket, key, delta in deltas(event) if found is None else found:
            slot = (bucket, key)
            mine = pending.get(slot)
            pending[slot] = delta if mine is None else _absorb(bucket, mine, delta)
            if bucket not in HELD:
                self._touch(slot, mine is None)
        self.applied += 1
        if len(pending) >= self.max_objects:
            self.evict(len(pending) - self.max_objects // 2)

    def _touch(self, slot: Slot, new: bool) -> None:
        """Mark slot's group as the most recently touched (and add slot to it when new in pending)."""
        group = _group_of(*slot)
        slots = self.groups.get(group)
        if slots is None:
            self.groups[group] = [slot]
            return
        if new:
            slots.append(slot)
        self.groups.move_to_end(group)

    def evict(self, count: int) -> None:
        """Write out the least recently touched objects, at least count of them (whole groups)."""
        written = 0
        evicted: dict[Slot, o.State] = {}
        while written < count and self.groups:
            _, slots = self.groups.popitem(last=False)
            for slot in slots:
                evicted[slot] = self.pending.pop(slot)
            written += len(slots)
        self._write(evicted, final=False)

    def flush(self) -> None:
        self._write(self.pending, final=True)
        self.pending = {}
        self.groups.clear()

    def _write(self, states: dict[Slot, o.State], final: bool) -> None:
        """Pages, then thread objects (with the pages' dat sizes), then the lists the threads go to.

        Before the final flush, what the threads give the lists goes back into
        the cache (joined into what it holds for them) rather than to the store.
        """
        by_bucket: dict[str, dict[str, o.State]] = {}
        for (bucket, key), state in states.items():
            by_bucket.setdefault(bucket, {})[key] = state
        threads = by_bucket.pop(o.THREAD, {})
        held_lists = {b: by_bucket.pop(b, {}) for b in (o.THREADS, o.ARCHIVE, o.KAKO)}
        for bucket, items in by_bucket.items():
            for key, value in self._write_bucket(bucket, items).items():
                if bucket == o.POSTS and value is not None:
                    target, sizes = page_sizes(key, value)
                    threads[target] = o.join_thread(threads[target], sizes) if target in threads else sizes
        derived: dict[Slot, o.State] = {}
        for key, value in self._write_bucket(o.THREAD, threads).items():
            state = e.loads(value)
            if state and state.get("thread"):
                board, thread = o.split_thread_key(key)
                for bucket, list_key, delta in listed(board, thread, state["thread"]):
                    slot = (bucket, list_key)
                    derived[slot] = _gather(bucket, derived[slot], delta) if slot in derived else delta
        if not final:
            for slot in [s for s in derived if s[1] not in held_lists[s[0]]]:  # those not written now anyway
                delta, held = derived.pop(slot), self.pending.get(slot)
                self.pending[slot] = delta if held is None else _gather(slot[0], held, delta)
                if slot[0] not in HELD:
                    self._touch(slot, held is None)
        for bucket, items in held_lists.items():
            for key, delta in items.items():
                slot = (bucket, key)
                derived[slot] = _gather(bucket, derived[slot], delta) if slot in derived else delta
        now: dict[str, dict[str, o.State]] = {}
        for (bucket, key), delta in derived.items():
            now.setdefault(bucket, {})[key] = delta
        for bucket, items in now.items():
            self._write_bucket(bucket, items)

    def _write_bucket(self, bucket: str, items: dict[str, o.State]) -> dict[str, bytes | None]:
        """Join each state into its stored object; return what each object now holds.

        The objects are fetched together and the new values encoded before the
        store's batch opens, so the batch (SQLite's write lock) is held only
        for the writes. Each write is conditional on what was fetched. Those
        that lost a race (another restore process made the object since: a
        fresh batch writes without reading) are read and joined again inside
        the batch, where on SQLite nobody else can write, and written in the
        same transaction; one that loses again goes through update()'s loop.
        """
        if self.store.dual_twin() is not None:
            # A dual write (generations.py) reaches the staged generation through update() only, and
            # the rollup applies what fan-out and reconcile missed: one object at a time while it lasts.
            return {key: write(self.store, bucket, key, state) for key, state in items.items()}
        written: dict[str, bytes | None] = {}
        keys = list(items)
        for start in range(0, len(keys), FETCH_CHUNK):
            chunk = keys[start : start + FETCH_CHUNK]
            unread = [k for k in chunk if (bucket, k) in self.written] if self.fresh else chunk
            fetched = self.store.fetch_many_to_write(bucket, unread) if unread else {}
            writes = self._joined(bucket, chunk, items, fetched, written)
            with self.store.batch():
                lost = self._store(bucket, writes, written)
                if lost:
                    again = self._joined(bucket, lost, items, self.store.fetch_many_to_write(bucket, lost), written)
                    lost = self._store(bucket, again, written)
            for key in lost:
                written[key] = write(self.store, bucket, key, items[key])
            if self.fresh:
                self._remember(bucket, chunk)
        return written

    def _joined(
        self,
        bucket: str,
        keys: list[str],
        items: dict[str, o.State],
        fetched: dict[str, Fetched],
        written: dict[str, bytes | None],
    ) -> list[tuple[str, bytes, Any]]:
        """The writes that join each key's state into what was fetched (unchanged objects go to written)."""
        writes = []
        for key in keys:
            found = fetched.get(key)
            if found is None:
                current, context = None, None
            else:
                values = found.values
                current = values[0] if len(values) == 1 else merger(bucket, key)(list(values))
                context = found.context
            new = join_into(bucket, key, current, items[key])
            if found is not None and new == current and len(found.values) == 1:
                written[key] = current
            else:
                writes.append((key, new, context))
        return writes

    def _store(self, bucket: str, writes: list[tuple[str, bytes, Any]], written: dict[str, bytes | None]) -> list[str]:
        """Make the writes; record those that landed in written and return the keys of those that lost a race."""
        results = self.store.store_many(bucket, writes)
        lost = []
        for key, new, _ in writes:
            if results.get(key) is None:
                written[key] = new
            else:
                lost.append(key)
        return lost

    def _remember(self, bucket: str, keys: list[str]) -> None:
        written = self.written
        for key in keys:
            written[(bucket, key)] = None
            written.move_to_end((bucket, key))
        while len(written) > WRITTEN_KEPT:
            # A forgotten key is written without reading it first, as if another writer had made
            # it: still correct (see __init__), only an extra request or a sibling. Eviction is
            # least recently touched first, so these are the ones least likely to be touched again.
            written.popitem(last=False)

    def __enter__(self) -> BatchApplier:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()
