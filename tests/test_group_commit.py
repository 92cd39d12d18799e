"""Group commit: one process's posts to one thread are numbered in batches and written at once, gapless."""

from __future__ import annotations

import threading
import time

from board.events import EventType, decode, encode, new_event
from board.log import LogError, LogUnavailable, get_log
from board.log.layout import INCOMING_POSTS, post_key
from board.posting import numbers, threadlock
from board.readmodel import projection, queries
from board.store import get_store
from board.twoch import datfile
from tests.helpers import make_board, new_thread


def claim_thread(board: str = "b", thread: str = "1") -> None:
    get_log().create(post_key(board, thread, 1), encode(new_event(EventType.THREAD_CREATED, board, thread, 1, {})))


def build(n: int):
    return new_event(EventType.POST_CREATED, "b", "1", n, {"name": "", "mail": "", "body": f"post {n}", "id": ""})


def committed_numbers() -> list[int]:
    return sorted(int(i.key.rsplit("/", 1)[1][:4]) for i in get_log().list(INCOMING_POSTS) if i.key.endswith(".json"))


def batch_of(count: int, put=None, limit: int = 1000, board: str = "b", thread: str = "1") -> list:
    """Run count posters while the thread's lock is held elsewhere, so all of them join one batch;
    return each one's event, None (full) or exception, in the order they came."""
    outcomes: list = [None] * count
    holder = threadlock.ThreadLock(board, thread)
    assert holder.acquire(wait=0)

    def post(i: int) -> None:
        try:
            outcomes[i] = numbers.commit_numbered(get_log(), board, thread, build, limit, put)
        except Exception as exc:
            outcomes[i] = exc

    posters = [threading.Thread(target=post, args=(i,)) for i in range(count)]
    for i, poster in enumerate(posters):
        poster.start()
        while len(numbers._lines[(board, thread)].waiting) < i + 1:
            time.sleep(0.001)
    holder.release()
    for poster in posters:
        poster.join(10)
    return outcomes


def test_posters_waiting_for_the_thread_write_their_claims_at_the_same_time():
    claim_thread()
    writing, most = [0], [0]
    guard = threading.Lock()

    def slow_put(key: str, data: bytes) -> None:
        with guard:
            writing[0] += 1
            most[0] = max(most[0], writing[0])
        time.sleep(0.05)
        get_log().create(key, data)
        with guard:
            writing[0] -= 1

    outcomes = batch_of(5, slow_put)
    assert sorted(event.number for event in outcomes) == [2, 3, 4, 5, 6]
    assert most[0] == 5
    assert committed_numbers() == [1, 2, 3, 4, 5, 6]


def test_the_batch_leaves_a_hint_covering_every_number_it_wrote():
    claim_thread()
    batch_of(4)
    assert threadlock.read_hint("b", "1").number == 5


def test_a_write_that_failed_below_one_that_was_written_is_voided_so_the_dat_goes_on():
    claim_thread()

    def put(key: str, data: bytes) -> None:
        if decode(data).number == 3:
            raise LogError("refused")
        get_log().create(key, data)

    outcomes = batch_of(3, put)
    assert isinstance(outcomes[1], LogError)  # its poster is told it was not written, which is true
    assert [o.number for o in (outcomes[0], outcomes[2])] == [2, 4]
    assert decode(get_log().read(post_key("b", "1", 3))).payload["void"] is True
    assert numbers.commit_numbered(get_log(), "b", "1", build, 1000).number == 5


def test_when_the_void_cannot_be_written_either_the_next_post_takes_the_gap(monkeypatch):
    claim_thread()
    log = get_log()
    real_create = type(log).create

    def create(self, key, data):
        if key == post_key("b", "1", 3):
            raise LogUnavailable("down", unsent=True)
        real_create(self, key, data)

    monkeypatch.setattr(type(log), "create", create)
    outcomes = batch_of(3)
    assert isinstance(outcomes[1], LogError)
    monkeypatch.setattr(type(log), "create", real_create)
    assert numbers.commit_numbered(get_log(), "b", "1", build, 1000).number == 3
    assert committed_numbers() == [1, 2, 3, 4]


def test_a_claim_whose_number_another_writer_took_is_numbered_again():
    claim_thread()
    get_log().create(post_key("b", "1", 3), encode(build(3)))  # a poster that went ahead without the lock
    outcomes = batch_of(3)
    assert sorted(o.number for o in outcomes) == [2, 4, 5]
    assert committed_numbers() == [1, 2, 3, 4, 5]


def test_claims_past_the_thread_limit_are_answered_full():
    claim_thread()
    outcomes = batch_of(3, limit=3)
    assert [o.number if o else None for o in outcomes] == [2, 3, None]


def test_a_thread_not_in_the_log_is_every_claims_answer():
    outcomes = batch_of(2)
    assert all(isinstance(o, numbers.NotInLog) for o in outcomes)


def test_a_thread_nobody_posts_to_any_more_leaves_nothing_behind_in_the_process():
    claim_thread()
    batch_of(3)
    assert ("b", "1") not in numbers._lines


def test_without_the_thread_lock_posts_are_numbered_one_at_a_time(monkeypatch):
    claim_thread()
    monkeypatch.setattr(threadlock.ThreadLock, "acquire", lambda self, wait=0: False)
    writing, most = [0], [0]
    guard = threading.Lock()

    def slow_put(key: str, data: bytes) -> None:
        with guard:
            writing[0] += 1
            most[0] = max(most[0], writing[0])
        time.sleep(0.02)
        get_log().create(key, data)
        with guard:
            writing[0] -= 1

    posters = [
        threading.Thread(target=numbers.commit_numbered, args=(get_log(), "b", "1", build, 1000, slow_put))
        for _ in range(4)
    ]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join(10)
    assert most[0] == 1
    assert committed_numbers() == [1, 2, 3, 4, 5]


def test_a_void_reads_as_a_deleted_post_and_the_posts_after_it_are_in_the_dat():
    make_board("test")
    thread = new_thread(body="1").thread
    projection.apply(get_store(), new_event(EventType.POST_CREATED, "test", thread, 2, numbers.VOID))
    projection.apply(get_store(), build_reply(thread, 3))
    assert queries.posts(get_store(), "test", thread, [2])[0]["deleted"]
    dat = datfile.open_dat(get_store(), "test", thread)
    assert sum(chunk.lines for chunk in dat.chunks) == 3


def test_a_void_does_not_bump_the_thread():
    make_board("test")
    thread = new_thread(body="1").thread
    bumped = queries.thread(get_store(), "test", thread).bumped
    projection.apply(get_store(), new_event(EventType.POST_CREATED, "test", thread, 2, numbers.VOID))
    assert queries.thread(get_store(), "test", thread).bumped == bumped


def build_reply(thread: str, n: int):
    return new_event(EventType.POST_CREATED, "test", thread, n, {"name": "", "mail": "", "body": "レス", "id": ""})
