"""A restore in several processes shares out the threads and the search index's shards (board/lifecycle/shards.py).

Each event's objects are applied by exactly one process, a process decodes
every line it needs (and not the others' posts), and each of the search
index's objects is written by one process only: split by thread alone, both
processes wrote every 10-minute slot and the second write of each lost its
race and was read and joined again.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from board.events import EventType, encode, new_event
from board.lifecycle.shards import Shard
from board.readmodel import batch, moderation, projection
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.store.memory import MemoryStore
from tests.lifecycle_helpers import long_history, store_dump


def history() -> list:
    """Eight hours of posts in many threads, with some posts deleted and purged (their index entries too)."""
    events = long_history(8)
    posts = [ev for ev in events if ev.type == EventType.POST_CREATED]
    when = max(ev.time for ev in events)
    for n, post in enumerate(posts[::97]):
        kind = EventType.POST_PURGED if n % 3 == 0 else EventType.POST_DELETED
        payload = {"reason": "削除依頼", "by": "mod", "posted": post.time, "posted_event": post.id}
        at = moderation.jst(when + n + 1)
        events.append(new_event(kind, post.board, post.thread, post.number, payload, at=at))
    return events


def canonical(deltas) -> Counter:
    return Counter((bucket, key, e.dumps(delta)) for bucket, key, delta in deltas)


@pytest.mark.parametrize("count", [2, 3, 4])
def test_the_shares_of_a_restore_apply_each_of_an_events_deltas_exactly_once(count):
    for event in history():
        shared = sum((canonical(Shard(i, count).deltas(event)) for i in range(count)), Counter())
        assert shared == canonical(projection.deltas(event)), event


@pytest.mark.parametrize("count", [2, 3, 4])
def test_a_restore_process_decodes_every_line_whose_deltas_it_applies(count):
    for event in history():
        line = encode(event)
        for i in range(count):
            shard = Shard(i, count)
            if list(shard.deltas(event)):
                assert shard.wants(line), (i, event)


def test_a_restore_process_does_not_decode_the_posts_of_other_threads_in_other_index_shards():
    posts = [ev for ev in history() if ev.type == EventType.POST_CREATED]
    shard = Shard(0, 2)
    skipped = [ev for ev in posts if not shard.wants(encode(ev))]
    # About a quarter: the other process's threads, in its index shards.
    assert 0.15 * len(posts) < len(skipped) < 0.35 * len(posts)
    assert not any(shard.owns(ev) or moderation.index_shard(ev) % 2 == 0 for ev in skipped)


def test_a_restore_in_two_processes_writes_each_search_index_object_once(monkeypatch):
    events = history()
    store = MemoryStore(uuid.uuid4().hex)
    writes: Counter = Counter()
    real = store.store_many

    def counted(bucket, items):
        writes.update(key for key, _, _ in items if bucket == o.POST_INDEX)
        return real(bucket, items)

    monkeypatch.setattr(store, "store_many", counted)
    for i in (0, 1):
        shard = Shard(i, 2)
        with batch.BatchApplier(store, max_objects=100_000, fresh=True) as applier:
            for event in events:
                applier.add(event, shard.deltas(event))
    assert writes and set(writes.values()) == {1}
    one_by_one = MemoryStore(uuid.uuid4().hex)
    for event in events:
        projection.apply(one_by_one, event)
    assert store_dump(store) == store_dump(one_by_one)


def test_a_slot_of_the_search_index_is_written_by_the_process_owning_its_shard():
    events = history()
    for i in (0, 1):
        store = MemoryStore(uuid.uuid4().hex)
        shard = Shard(i, 2)
        with batch.BatchApplier(store, fresh=True) as applier:
            for event in events:
                applier.add(event, shard.deltas(event))
        shards = {int(key.rsplit("/", 1)[1]) for bucket, key in store_dump(store) if bucket == o.POST_INDEX}
        assert shards == {s for s in range(o.POST_INDEX_SHARDS) if s % 2 == i}
