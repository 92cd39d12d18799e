"""The dat kept in the store: page chunks and the per-thread index stay semilattices.

Events are applied straight to a store here (no log, no HTTP): the point is
that whatever order, repetition or batching the projection sees, the stored
dat bytes come out the same, and are the lines the format says.
"""

from __future__ import annotations

import itertools
import random

import pytest

from board.events import EventType, new_event
from board.formats import dat
from board.readmodel import batch, projection
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.store.memory import MemoryStore
from board.twoch import datfile

BOARD, THREAD = "test", "1700000000"


def board_event(**settings):
    return new_event(EventType.BOARD_CREATED, BOARD, payload={"title": "テスト板", **settings})


def post_event(number: int, body: str | None = None, subject: str = "スレタイ"):
    payload = {"name": "名無しさん", "mail": "", "body": body or f"本文{number}", "id": "AbCdEfGh"}
    if number == 1:
        payload["subject"] = subject
        return new_event(EventType.THREAD_CREATED, BOARD, THREAD, 1, payload)
    return new_event(EventType.POST_CREATED, BOARD, THREAD, number, payload)


def deletion(number: int):
    return new_event(EventType.POST_DELETED, BOARD, THREAD, number, {"reason": "spam"})


def fresh_store(name: str = "s", **options) -> MemoryStore:
    store = MemoryStore(f"dat-store-{name}-{random.random()}", options)
    projection.apply(store, board_event())
    return store


def apply_all(store, events) -> MemoryStore:
    for event in events:
        projection.apply(store, event)
    return store


def dat_bytes(store) -> bytes:
    found = datfile.open_dat(store, BOARD, THREAD)
    assert found is not None
    return datfile.read(store, found)[1]


def stored(store, pages: int = 3) -> list[bytes | None]:
    keys = [(o.POSTS, o.posts_key(BOARD, THREAD, p)) for p in range(pages)] + [(o.THREAD, o.thread_key(BOARD, THREAD))]
    return [store.get(bucket, key) for bucket, key in keys]


PAGE0 = o.posts_key(BOARD, THREAD, 0)


def encode_page(state: o.State, key: str = PAGE0) -> bytes:
    return e.encode(o.POSTS, key, state)


def expected_line(event, title: str = "") -> bytes:
    p = event.payload
    post = {"name": p["name"], "mail": p["mail"], "time": event.time, "id": p["id"], "body": p["body"]}
    return dat.encode(dat.post_line(post, title))


def test_page_value_still_decodes_to_its_posts() -> None:
    store = apply_all(fresh_store(), [post_event(1)])
    state = e.loads(store.get(o.POSTS, o.posts_key(BOARD, THREAD, 0)))
    assert set(state["posts"]) == {"1"} and state["title"] == "スレタイ"


def test_page_chunk_is_the_dat_lines_of_its_posts() -> None:
    events = [post_event(1), post_event(2)]
    store = apply_all(fresh_store(), events)
    _, chunk, _ = e.page_parts(store.get(o.POSTS, o.posts_key(BOARD, THREAD, 0)))
    assert chunk == expected_line(events[0], "スレタイ") + expected_line(events[1])


def test_a_post_applied_before_the_one_in_front_waits() -> None:
    one, two, three = post_event(1), post_event(2), post_event(3)
    store = apply_all(fresh_store(), [one, three])
    assert dat_bytes(store).count(b"\n") == 1
    projection.apply(store, two)
    assert dat_bytes(store).count(b"\n") == 3


def test_any_order_of_applying_gives_the_same_bytes() -> None:
    events = [post_event(1), post_event(2), post_event(3), deletion(2)]
    results = {tuple(stored(apply_all(fresh_store(), order))) for order in itertools.permutations(events)}
    assert len(results) == 1


def test_applying_twice_is_applying_once() -> None:
    events = [post_event(1), post_event(2), deletion(1)]
    assert stored(apply_all(fresh_store(), events)) == stored(apply_all(fresh_store(), events + events))


def test_batch_apply_writes_what_live_apply_writes() -> None:
    events = [post_event(n) for n in range(1, 251)] + [deletion(150)]
    live = apply_all(fresh_store(), events)
    batched = fresh_store()
    with batch.BatchApplier(batched, max_objects=7) as applier:
        for event in events:
            applier.add(event)
    assert stored(batched) == stored(live)


def test_deleted_post_becomes_the_abone_line() -> None:
    store = apply_all(fresh_store(), [post_event(1), post_event(2), deletion(2)])
    assert dat_bytes(store).split(b"\n")[1] == "あぼーん<>あぼーん<>あぼーん<>あぼーん<>".encode("cp932")


def test_deleting_post_one_keeps_the_title() -> None:
    store = apply_all(fresh_store(), [post_event(1, subject="残るタイトル"), deletion(1)])
    assert dat_bytes(store) == "あぼーん<>あぼーん<>あぼーん<>あぼーん<>残るタイトル\n".encode("cp932")


def test_deletion_applied_before_its_post_still_wins() -> None:
    store = apply_all(fresh_store(), [deletion(1), post_event(1)])
    assert dat_bytes(store).startswith("あぼーん<>".encode("cp932"))


def test_index_records_each_pages_chunk_size() -> None:
    count = o.POSTS_PER_PAGE + o.POSTS_PER_PAGE // 2
    store = apply_all(fresh_store(), [post_event(n) for n in range(1, count + 1)])
    index = e.loads(store.get(o.THREAD, o.thread_key(BOARD, THREAD)))
    sizes = [len(e.page_parts(store.get(o.POSTS, o.posts_key(BOARD, THREAD, p)))[1]) for p in (0, 1)]
    assert [index["pages"][str(p)]["size"] for p in (0, 1)] == sizes
    assert [index["pages"][str(p)]["lines"] for p in (0, 1)] == [o.POSTS_PER_PAGE, o.POSTS_PER_PAGE // 2]


def test_dat_spans_pages_in_order() -> None:
    events = [post_event(n) for n in range(1, 4 * o.POSTS_PER_PAGE + 6)]
    store = apply_all(fresh_store(), events)
    expected = expected_line(events[0], "スレタイ") + b"".join(expected_line(e) for e in events[1:])
    assert dat_bytes(store) == expected


def test_a_later_page_waits_for_the_one_before_to_fill() -> None:
    gap = o.POSTS_PER_PAGE
    store = apply_all(fresh_store(), [post_event(n) for n in range(1, 2 * o.POSTS_PER_PAGE + 2) if n != gap])
    assert dat_bytes(store).count(b"\n") == gap - 1


def _random_page_state(rng: random.Random) -> o.State:
    posts = {}
    for n in rng.sample(range(1, 8), rng.randint(0, 5)):
        if rng.random() < 0.3:
            posts[str(n)] = {"number": n, "deleted": True, "event": f"D{rng.randint(0, 3)}", "reason": ""}
        else:
            posts[str(n)] = {"number": n, "name": "n", "mail": "", "time": n, "id": "", "body": f"b{n}", "event": "P"}
            if n % 2:  # one post is one event: its weekday names are the same in every copy
                posts[str(n)]["weekdays"] = "ABCDEFG"
    state: o.State = {"posts": posts}
    if "1" in posts and rng.random() < 0.7:
        state["title"] = "t"
    return state


@pytest.mark.parametrize("seed", range(30))
def test_page_join_is_a_semilattice(seed: int) -> None:
    rng = random.Random(seed)
    a, b, c = (_random_page_state(rng) for _ in range(3))
    join = o.join_posts
    assert encode_page(join(a, b)) == encode_page(join(b, a))
    assert encode_page(join(join(a, b), c)) == encode_page(join(a, join(b, c)))
    assert encode_page(join(a, a)) == encode_page(a)


def test_reused_fragments_give_the_bytes_a_fresh_encoding_gives() -> None:
    rng = random.Random(7)
    for _ in range(30):
        a, b = _random_page_state(rng), _random_page_state(rng)
        joined = o.join_posts(a, b)
        assert e.encode(o.POSTS, PAGE0, joined, (a, encode_page(a))) == encode_page(joined)


def _page_entry(state: o.State) -> o.State:
    return e.page_entry(encode_page(state))


@pytest.mark.parametrize("seed", range(30))
def test_index_join_is_a_semilattice(seed: int) -> None:
    rng = random.Random(seed)
    a, b, c = ({"pages": {"0": _page_entry(_random_page_state(rng))}} for _ in range(3))
    join = o.join_thread
    assert join(a, b) == join(b, a)
    assert join(join(a, b), c) == join(a, join(b, c))
    assert join(a, a) == a


def test_a_fuller_page_has_the_larger_fingerprint() -> None:
    small = {"posts": {"1": {"number": 1, "name": "n", "mail": "", "time": 1, "id": "", "body": "b", "event": "P"}}}
    full = o.join_posts(small, {"posts": {"2": {**small["posts"]["1"], "number": 2}}})
    deleted = o.join_posts(full, {"posts": {"2": {"number": 2, "deleted": True, "event": "Q", "reason": ""}}})
    fps = [_page_entry(s)["fp"] for s in (small, full, deleted)]
    assert fps == sorted(fps) and len(set(fps)) == 3


def test_read_many_merges_each_keys_siblings_and_leaves_out_missing_keys() -> None:
    store = fresh_store(siblings="1")
    apply_all(store, [post_event(1)])
    key = o.posts_key(BOARD, THREAD, 0)
    page = e.loads(store.get(o.POSTS, key))
    context = store.fetch(o.POSTS, key).context
    for event in (post_event(2), post_event(3)):
        delta = {"posts": {str(event.number): projection.post_state(event)}}
        store.store(o.POSTS, key, encode_page(o.join_posts(page, delta)), context)
    missing = o.posts_key(BOARD, THREAD, 5)
    found = projection.read_many(store, o.POSTS, [key, missing])
    assert list(found) == [key]
    assert sorted(e.loads(found[key])["posts"]) == ["1", "2", "3"]


def test_sibling_pages_are_served_merged() -> None:
    store = fresh_store(siblings="1")
    apply_all(store, [post_event(1)])
    key = o.posts_key(BOARD, THREAD, 0)
    page = e.loads(store.get(o.POSTS, key))
    two, three = post_event(2), post_event(3)
    # Two writers that both read the one-post page: Riak keeps both writes as siblings.
    context = store.fetch(o.POSTS, key).context
    for event in (two, three):
        delta = {"posts": {str(event.number): projection.post_state(event)}}
        store.store(o.POSTS, key, encode_page(o.join_posts(page, delta)), context)
    assert len(store.fetch(o.POSTS, key).values) == 2
    assert dat_bytes(store).count(b"\n") == 3
