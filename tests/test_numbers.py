"""Res numbers and thread keys: the log decides, the cache only hints."""

from __future__ import annotations

import threading

from django.core.cache import cache

from board.events import EventType, new_event
from board.log import get_log
from board.log.layout import INCOMING_POSTS
from board.posting import numbers


def commit(count_in_store: int, limit: int = 1000):
    return numbers.commit_numbered(
        get_log(),
        "b",
        "1",
        count_in_store,
        lambda n: new_event(EventType.POST_CREATED, "b", "1", n, {}),
        limit,
    )


def committed_numbers() -> list[int]:
    return sorted(int(i.key.rsplit("/", 1)[1][:4]) for i in get_log().list(INCOMING_POSTS))


def test_numbers_follow_the_store_count():
    assert commit(count_in_store=1).number == 2
    assert commit(count_in_store=1).number == 3


def test_after_the_cache_is_flushed_a_lagging_store_count_walks_forward_over_taken_numbers():
    for _ in range(4):
        commit(count_in_store=1)  # 2..5
    cache.clear()  # Redis restarted: the hint is gone, the store still says 1
    assert commit(count_in_store=1).number == 6
    assert committed_numbers() == [2, 3, 4, 5, 6]


def test_a_full_thread_commits_nothing():
    assert commit(count_in_store=3, limit=3) is None
    assert committed_numbers() == []


def test_concurrent_posters_get_each_number_once():
    got: list[int] = []

    def post():
        got.append(commit(count_in_store=1).number)

    workers = [threading.Thread(target=post) for _ in range(40)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(got) == list(range(2, 42))
    assert committed_numbers() == list(range(2, 42))


def test_thread_key_skips_keys_the_store_already_has():
    event = numbers.commit_thread(
        get_log(),
        1_800_000_000,
        lambda key: new_event(EventType.THREAD_CREATED, "b", key, 1, {}),
        known=lambda key: key == "1800000000",
    )
    assert event.thread == "1800000001"
