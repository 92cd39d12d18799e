"""Numbers handed out by Redis: posters to one thread write their claims at once, and the numbers stay gapless."""

from __future__ import annotations

import threading
import time

import pytest

from board.events import EventType, decode, encode, new_event
from board.log import LogError, LogUnavailable, get_log
from board.log.claims import read_claims
from board.log.layout import INCOMING_POSTS, post_key
from board.posting import numbers, sequence
from board.readmodel import projection, queries
from board.store import get_store
from board.twoch import datfile
from tests.helpers import count_listings, make_board, new_thread


@pytest.fixture(autouse=True)
def redis_cache(settings, fresh_redis):
    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": fresh_redis}}


class Clock:
    """The numbering's clock (numbers._now_ms), moved by the test: staleness without sleeping, whatever the load."""

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def clock(monkeypatch) -> Clock:
    now = Clock()
    monkeypatch.setattr(numbers, "_now_ms", now)
    return now


def claim_thread() -> None:
    get_log().create(post_key("b", "1", 1), encode(new_event(EventType.THREAD_CREATED, "b", "1", 1, {})))


def build(n: int):
    return new_event(EventType.POST_CREATED, "b", "1", n, {"name": "", "mail": "", "body": f"post {n}", "id": ""})


def commit(put=None, limit: int = 1000):
    return numbers.commit_numbered(get_log(), "b", "1", build, limit, put)


def committed() -> list[int]:
    return sorted(int(i.key.rsplit("/", 1)[1][:4]) for i in get_log().list(INCOMING_POSTS) if i.key.endswith(".json"))


def until(check, seconds: float = 5.0) -> bool:
    """Whether check() came true within seconds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def in_thread(target) -> tuple[threading.Thread, list]:
    """Run target in a thread; the list gets its result or its exception."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(target())
        except Exception as exc:
            outcome.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    return runner, outcome


def fails_after_the_next_is_written(write):
    """Post 2 with write(), which runs only once post 3 (committed here) is written; return post 2's outcome."""
    inside, later_written = threading.Event(), threading.Event()

    def after_the_next(key: str, data: bytes) -> None:
        inside.set()
        later_written.wait(5)
        write(key, data)

    first, outcome = in_thread(lambda: commit(after_the_next))
    inside.wait(5)
    assert commit().number == 3
    later_written.set()
    first.join(10)
    return outcome[0]


def test_posters_on_one_thread_write_their_claims_at_the_same_time():
    claim_thread()
    writing, most, guard = [0], [0], threading.Lock()

    def slow_put(key: str, data: bytes) -> None:
        with guard:
            writing[0] += 1
            most[0] = max(most[0], writing[0])
        time.sleep(0.1)
        get_log().create(key, data)
        with guard:
            writing[0] -= 1

    runs = [in_thread(lambda: commit(slow_put)) for _ in range(5)]
    for runner, _ in runs:
        runner.join(10)
    assert sorted(outcome[0].number for _, outcome in runs) == [2, 3, 4, 5, 6]
    assert most[0] >= 3
    assert committed() == [1, 2, 3, 4, 5, 6]


def test_the_first_post_starts_the_sequence_from_the_log_and_the_next_lists_nothing(monkeypatch):
    claim_thread()
    listed = count_listings(monkeypatch)
    assert commit().number == 2
    assert commit().number == 3
    assert listed == ["incoming/posts/b/1/"]


def test_a_new_threads_first_reply_lists_nothing(monkeypatch):
    event = numbers.commit_thread(get_log(), 1, lambda key: new_event(EventType.THREAD_CREATED, "b", key, 1, {}))
    assert event.thread == "1"
    listed = count_listings(monkeypatch)
    assert commit().number == 2
    assert listed == []


def new_thread_in(second: int) -> str:
    event = numbers.commit_thread(get_log(), second, lambda key: new_event(EventType.THREAD_CREATED, "b", key, 1, {}))
    return event.thread


def test_threads_made_in_one_second_list_one_key_each_not_every_key_before(monkeypatch):
    listed = count_listings(monkeypatch)
    assert [new_thread_in(1_800_000_000) for _ in range(4)] == ["1800000000", "1800000001", "1800000002", "1800000003"]
    assert listed == [f"incoming/posts/b/{1_800_000_000 + i}/" for i in range(4)]


def test_a_taken_key_whose_sequence_redis_lost_is_still_found_in_the_log(monkeypatch, fresh_redis):
    import redis

    assert new_thread_in(1_800_000_000) == "1800000000"
    redis.Redis.from_url(fresh_redis).flushall()
    assert new_thread_in(1_800_000_000) == "1800000001"


def started(board: str = "b", thread: str = "1") -> bool:
    return sequence.Sequence(numbers.redis_backend(), board, thread).start(int(time.time() * 1000))


def test_starting_a_sequence_a_poster_already_started_changes_nothing():
    claim_thread()
    assert commit().number == 2
    assert not started()
    assert commit().number == 3


def test_a_number_written_without_the_sequence_is_stepped_over_once_it_is_started():
    claim_thread()
    get_log().create(post_key("b", "1", 2), encode(build(2)))  # a poster whose Redis failed
    assert started()
    assert commit().number == 3
    assert committed() == [1, 2, 3]


def test_a_failed_write_with_no_later_number_out_gives_the_number_back():
    claim_thread()

    def failing(key: str, data: bytes) -> None:
        raise LogError("refused")

    with pytest.raises(LogError):
        commit(failing)
    assert commit().number == 2
    assert committed() == [1, 2]


def test_a_failed_write_below_a_written_one_is_voided_so_that_the_dat_goes_on():
    claim_thread()

    def refused(key: str, data: bytes) -> None:
        raise LogError("refused")

    assert isinstance(fails_after_the_next_is_written(refused), LogError)
    voided = until(lambda: get_log().exists(post_key("b", "1", 2)))  # written after the poster was answered
    assert voided and decode(get_log().read(post_key("b", "1", 2))).payload["void"] is True
    assert commit().number == 4


def test_a_gap_that_could_not_be_voided_is_handed_out_again_once_the_sequence_is_stuck(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    log, down = get_log(), threading.Event()
    real_create = type(log).create

    refused: list[str] = []

    def create(self, key, data):
        if down.is_set() and key == post_key("b", "1", 2):
            refused.append(key)
            raise LogUnavailable("down", unsent=True)
        real_create(self, key, data)

    monkeypatch.setattr(type(log), "create", create)

    def log_goes_down(key: str, data: bytes) -> None:
        down.set()
        log.create(key, data)

    assert isinstance(fails_after_the_next_is_written(log_goes_down), LogError)
    assert until(lambda: len(refused) == 2)  # the post, then the void in the background
    down.clear()
    clock.advance(300)
    assert commit().number == 2
    assert commit().number == 4
    assert committed() == [1, 2, 3, 4]


def test_a_number_whose_poster_died_is_handed_out_again_once_the_sequence_is_stuck(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    assert commit().number == 2
    from django.core.cache import cache

    sequence.Sequence(cache, "b", "1").reserve(clock(), 1000)  # 3, and its poster dies
    assert commit().number == 4
    clock.advance(300)
    assert commit().number == 3
    assert commit().number == 5
    assert committed() == [1, 2, 3, 4, 5]


def test_the_sweep_voids_a_number_whose_poster_died_in_a_thread_nobody_posts_to_any_more(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    from django.core.cache import cache

    sequence.Sequence(cache, "b", "1").reserve(
        clock(), 1000, read_claims(get_log(), "b", "1")
    )  # 2, and its poster dies
    assert commit().number == 3
    clock.advance(300)
    assert numbers.sweep(get_log()) == ["b/1 2: voided"]
    assert decode(get_log().read(post_key("b", "1", 2))).payload["void"] is True
    assert commit().number == 4
    assert numbers.sweep(get_log()) == []


def test_the_sweep_marks_a_number_written_by_a_poster_that_died_before_saying_so(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    from django.core.cache import cache

    number = sequence.Sequence(cache, "b", "1").reserve(clock(), 1000, read_claims(get_log(), "b", "1"))
    get_log().create(post_key("b", "1", number), encode(build(number)))  # written, then the poster died
    assert commit().number == 3
    clock.advance(300)
    assert numbers.sweep(get_log()) == ["b/1 2: written"]
    assert decode(get_log().read(post_key("b", "1", 2))).payload["body"] == "post 2"


def poster_dies_then_redis_loses_the_sequence(clock: Clock) -> None:
    """Number 2 handed out and its poster dead, 3 written; then Redis restarts without what it held."""
    from django.core.cache import cache

    sequence.Sequence(cache, "b", "1").reserve(clock(), 1000, read_claims(get_log(), "b", "1"))
    assert commit().number == 3
    cache.clear()


def test_a_gap_left_when_redis_lost_the_sequence_is_handed_out_again(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    poster_dies_then_redis_loses_the_sequence(clock)
    assert commit().number == 4  # the sequence starts from the log, stuck below the gap
    clock.advance(300)
    assert commit().number == 2
    assert committed() == [1, 2, 3, 4]


def test_the_sweep_voids_a_gap_left_when_redis_lost_the_sequence(monkeypatch, clock):
    monkeypatch.setattr(sequence, "STALE_MS", 200)
    claim_thread()
    poster_dies_then_redis_loses_the_sequence(clock)
    assert commit().number == 4
    clock.advance(300)
    assert numbers.sweep(get_log()) == ["b/1 2: voided"]
    assert committed() == [1, 2, 3, 4]


def test_the_sweep_leaves_a_number_whose_poster_is_still_writing(clock):
    claim_thread()
    from django.core.cache import cache

    sequence.Sequence(cache, "b", "1").reserve(clock(), 1000, read_claims(get_log(), "b", "1"))
    assert commit().number == 3
    assert numbers.sweep(get_log()) == []


def test_a_number_another_writer_took_is_stepped_over():
    claim_thread()
    get_log().create(post_key("b", "1", 2), encode(build(2)))  # a poster that went ahead without Redis
    assert commit().number == 3


def test_a_full_thread_gets_no_number():
    claim_thread()
    assert commit(limit=2).number == 2
    assert commit(limit=2) is None


def test_a_thread_with_no_claim_in_the_log_gets_no_number():
    with pytest.raises(numbers.NotInLog):
        commit()


def test_a_void_reads_as_a_deleted_post_and_the_posts_after_it_are_in_the_dat():
    make_board("test")
    thread = new_thread(body="1").thread
    projection.apply(get_store(), new_event(EventType.POST_CREATED, "test", thread, 2, numbers.VOID))
    projection.apply(get_store(), reply_event(thread, 3))
    assert queries.posts(get_store(), "test", thread, [2])[0]["deleted"]
    dat = datfile.open_dat(get_store(), "test", thread)
    assert sum(chunk.lines for chunk in dat.chunks) == 3


def test_a_void_does_not_bump_the_thread():
    make_board("test")
    thread = new_thread(body="1").thread
    bumped = queries.thread(get_store(), "test", thread).bumped
    projection.apply(get_store(), new_event(EventType.POST_CREATED, "test", thread, 2, numbers.VOID))
    assert queries.thread(get_store(), "test", thread).bumped == bumped


def reply_event(thread: str, n: int):
    return new_event(EventType.POST_CREATED, "test", thread, n, {"name": "", "mail": "", "body": "レス", "id": ""})
