"""BatchApplier, which rehydrate uses, gives exactly the store that applying events one by one gives.

Its cache joins deltas in place and writes threads out least recently used
first; whatever the cache size (evictions at every event, or none), and
whatever the order of the events, the store must end byte for byte the same.
"""

from __future__ import annotations

import copy
import random
import uuid
import zlib
from collections import Counter
from datetime import timedelta

import pytest

from board.events import EventType, new_event
from board.readmodel import batch, projection
from board.readmodel import objects as o
from board.store.memory import MemoryStore
from tests.lifecycle_helpers import T0, long_history, store_dump


def random_history(seed: int, count: int = 400) -> list:
    """Boards, threads, replies (some sage), deletions, archivals and bans in a random mix."""
    rng = random.Random(seed)
    when = T0
    made = []
    counts: dict[tuple[str, str], int] = {}
    for board in ("a", "b"):
        made.append(new_event(EventType.BOARD_CREATED, board, payload={"title": board.upper()}, at=when))
    while len(made) < count:
        when += timedelta(milliseconds=rng.randint(1, 5000))
        board = rng.choice("ab")
        live = [t for (b, t) in counts if b == board]
        roll = rng.random()
        if not live or roll < 0.1:
            key = str(int(when.timestamp()) + len(counts))
            payload = {"name": "名無し", "mail": "", "body": "1", "id": "ID1", "subject": f"スレ{len(counts)}"}
            made.append(new_event(EventType.THREAD_CREATED, board, key, 1, payload, at=when))
            counts[(board, key)] = 1
            continue
        thread = rng.choice(live)
        if roll < 0.15:
            made.append(
                new_event(EventType.POST_DELETED, board, thread, rng.randint(1, counts[(board, thread)]), at=when)
            )
        elif roll < 0.17:
            made.append(new_event(EventType.THREAD_ARCHIVED, board, thread, at=when))
        elif roll < 0.19:
            payload = {"poster": "ID1", "day": when.date().isoformat(), "reason": ""}
            made.append(new_event(EventType.POSTER_BANNED, board, thread, 1, payload, at=when))
        else:
            counts[(board, thread)] += 1
            payload = {
                "name": "名無し",
                "mail": rng.choice(["", "sage"]),
                "body": f">>{rng.randint(1, 9)} <&>",
                "id": "ID2",
            }
            made.append(new_event(EventType.POST_CREATED, board, thread, counts[(board, thread)], payload, at=when))
    return made


def one_by_one(events) -> dict:
    store = MemoryStore(uuid.uuid4().hex)
    for event in events:
        projection.apply(store, event)
    return store_dump(store)


def batched(events, max_objects: int) -> dict:
    store = MemoryStore(uuid.uuid4().hex)
    with batch.BatchApplier(store, max_objects=max_objects) as applier:
        for event in events:
            applier.add(event)
    return store_dump(store)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_objects", [2, 5, 40, 100_000])
def test_batch_applier_gives_the_store_one_by_one_apply_gives(seed, max_objects):
    events = random_history(seed)
    assert batched(events, max_objects) == one_by_one(events)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("max_objects", [5, 100_000])
def test_batch_applier_is_order_free(seed, max_objects):
    events = random_history(seed)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert batched(shuffled, max_objects) == one_by_one(events)


@pytest.mark.parametrize("max_objects", [5, 100_000])
def test_batch_applier_applying_everything_twice_changes_nothing(max_objects):
    events = random_history(4)
    assert batched(events + events[::-1], max_objects) == one_by_one(events)


def test_batch_applier_over_a_store_that_holds_part_of_it_completes_it():
    events = random_history(9)
    store = MemoryStore(uuid.uuid4().hex)
    for event in events[::3]:
        projection.apply(store, event)
    with batch.BatchApplier(store, max_objects=7) as applier:
        for event in events:
            applier.add(event)
    assert store_dump(store) == one_by_one(events)


def test_threads_falling_off_long_after_they_were_written_out_stay_fallen():
    """A thread written out live, archived later: its mark must meet the held live entry before it goes."""
    from board.readmodel import queries
    from board.readmodel.objects import TOMBSTONE_MS

    when, live, events = (
        T0,
        [],
        [new_event(EventType.BOARD_CREATED, "b", payload={"title": "B", "thread_cap": 20}, at=T0)],
    )
    for i in range(120):
        when += timedelta(milliseconds=TOMBSTONE_MS // 10)  # marks age past TOMBSTONE_MS within the stream
        key = str(int(when.timestamp()))
        payload = {"name": "n", "mail": "", "body": "x", "id": "", "subject": f"s{i}"}
        events.append(new_event(EventType.THREAD_CREATED, "b", key, 1, payload, at=when))
        live.append(key)
        if len(live) > 20:
            events.append(new_event(EventType.THREAD_ARCHIVED, "b", live.pop(0), at=when + timedelta(milliseconds=1)))
    store = MemoryStore(uuid.uuid4().hex)
    with batch.BatchApplier(store, max_objects=30) as applier:
        for event in events:
            applier.add(event)
    assert sorted(t.key for t in queries.threads(store, "b")) == sorted(live)
    assert store_dump(store) == one_by_one(events)


@pytest.mark.parametrize("max_objects", [5, 100_000])
def test_a_fresh_batch_gives_the_store_one_by_one_apply_gives(max_objects):
    events = random_history(11)
    store = MemoryStore(uuid.uuid4().hex)
    with batch.BatchApplier(store, max_objects=max_objects, fresh=True) as applier:
        for event in events:
            applier.add(event)
    assert store_dump(store) == one_by_one(events)


def test_a_fresh_batch_reads_no_object_before_its_first_write(monkeypatch):
    store = MemoryStore(uuid.uuid4().hex)
    read: list[str] = []
    real = store.fetch_many

    def counting(bucket, keys):
        keys = list(keys)
        read.extend(keys)
        return real(bucket, keys)

    monkeypatch.setattr(store, "fetch_many", counting)
    with batch.BatchApplier(store, max_objects=100_000, fresh=True) as applier:
        for event in random_history(12):
            applier.add(event)
    assert read == [], "one flush into an empty store: every write is a first write"


def test_a_fresh_batch_over_objects_another_writer_made_meanwhile_loses_nothing():
    events = random_history(13)
    store = MemoryStore(uuid.uuid4().hex)
    with batch.BatchApplier(store, max_objects=7, fresh=True) as applier:
        for n, event in enumerate(events):
            applier.add(event)
            if n % 5 == 0:
                projection.apply(store, event)  # fan-out writing the same objects, unknown to the batch
    assert store_dump(store) == one_by_one(events)


# --- requests per object: a restore writes each object about once ----------------------------


def counting_store(monkeypatch) -> tuple[MemoryStore, Counter]:
    """An empty store that counts the objects it is asked to read ("GET") and write ("PUT")."""
    store = MemoryStore(uuid.uuid4().hex)
    made: Counter = Counter()
    fetch_many, store_many, update = store.fetch_many, store.store_many, store.update

    def fetching(bucket, keys):
        keys = list(keys)
        made["GET"] += len(keys)
        return fetch_many(bucket, keys)

    def storing(bucket, items):
        made["PUT"] += len(items)
        return store_many(bucket, items)

    def updating(bucket, key, *args, **kwargs):
        made["GET"] += 1
        made["PUT"] += 1
        return update(bucket, key, *args, **kwargs)

    monkeypatch.setattr(store, "fetch_many", fetching)
    monkeypatch.setattr(store, "store_many", storing)
    monkeypatch.setattr(store, "update", updating)
    return store, made


def test_a_fresh_batch_writes_each_object_about_once_and_reads_almost_none(monkeypatch):
    store, made = counting_store(monkeypatch)
    with batch.BatchApplier(store, max_objects=100, fresh=True) as applier:
        for event in long_history():
            applier.add(event)
    objects = len(store_dump(store))
    assert objects > 400, "the stream holds far more objects than the cache"
    assert made["PUT"] <= 1.1 * objects, (made, objects)
    assert made["GET"] <= 0.05 * objects, (made, objects)


def test_the_cache_never_holds_more_than_max_objects():
    applier = batch.BatchApplier(MemoryStore(uuid.uuid4().hex), max_objects=100, fresh=True)
    held = 0
    for event in long_history():
        applier.add(event)
        held = max(held, len(applier.pending))
    assert held <= 100


def test_a_thread_object_joined_in_place_equals_the_join():
    rng = random.Random(5)

    def thread_delta() -> dict:
        delta: dict = {}
        if rng.random() < 0.8:
            delta["thread"] = {"title": "", "created": 0, "count": rng.randint(1, 50), "bumped": "", "updated": 0}
            delta["thread"]["state"] = "live"
        if rng.random() < 0.3:
            delta["pages"] = {str(rng.randint(0, 2)): {"fp": f"{rng.randint(0, 99):03d}", "size": 1, "lines": 1}}
        posts = {str(n): {"number": n, "event": f"e{rng.randint(0, 9)}"} for n in rng.sample(range(1, 30), 3)}
        if rng.random() < 0.2:
            delta["first"] = {"number": 1, "event": f"e{rng.randint(0, 9)}", "deleted": rng.random() < 0.5}
        delta["recent"] = posts
        return delta

    held = thread_delta()
    joined = copy.deepcopy(held)
    for _ in range(300):
        delta = thread_delta()
        joined = o.join_thread(joined, delta)
        held = o.absorb_thread(held, delta)
        assert held == joined


def test_writes_that_lost_a_race_are_joined_again_in_the_same_batch_not_one_by_one(monkeypatch):
    events = random_history(14)
    store = MemoryStore(uuid.uuid4().hex)
    updates = []
    real = store.update
    monkeypatch.setattr(store, "update", lambda *args, **kwargs: updates.append(args[:2]) or real(*args, **kwargs))
    # Two restore processes, a shard of the threads each: both write the boards' lists (and would
    # write the search index's slots), so the second to write each of those loses its first write.
    shards = [[e for e in events if zlib.crc32((e.thread or "").encode()) % 2 == i] for i in (0, 1)]
    for shard in shards:
        with batch.BatchApplier(store, max_objects=40, fresh=True) as applier:
            for event in shard:
                applier.add(event)
    assert updates == []
    assert store_dump(store) == one_by_one(events)
