"""Res numbers and thread keys: the log decides, the cache only hints, the store is never asked."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from redis.exceptions import RedisError

from board import store as store_module
from board.boards import UNLIMITED
from board.events import EventType, decode, encode, new_event
from board.lifecycle import keys as k
from board.lifecycle.rollup import rollup
from board.log import get_log
from board.log.layout import INCOMING_POSTS, floor_key, marker_key, post_key
from board.posting import confirm, numbers, threadlock
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import projection, queries
from board.store import get_store
from tests import services
from tests.helpers import count_listings, make_board, new_thread, reply
from tests.lifecycle_helpers import incoming_keys, lifecycle_keys, read_segment

NUMBER_RE = re.compile(r'data-number="(\d+)"')
GRACE = timedelta(minutes=5)


def claim_thread(board: str = "b", thread: str = "1") -> None:
    """The thread's first post, committed as the write path does."""
    event = new_event(EventType.THREAD_CREATED, board, thread, 1, {})
    get_log().create(post_key(board, thread, 1), encode(event))


def commit(limit: int = 1000):
    return numbers.commit_numbered(
        get_log(), "b", "1", lambda n: new_event(EventType.POST_CREATED, "b", "1", n, {}), limit
    )


def committed_numbers() -> list[int]:
    return sorted(int(i.key.rsplit("/", 1)[1][:4]) for i in get_log().list(INCOMING_POSTS) if i.key.endswith(".json"))


def now_ms() -> int:
    return int(time.time() * 1000)


# --- where numbering starts -----------------------------------------------------------------------


def test_numbers_follow_the_highest_claim_in_the_log():
    claim_thread()
    assert commit().number == 2
    assert commit().number == 3


def test_after_the_cache_is_cleared_numbering_starts_after_the_highest_claim_listed():
    claim_thread()
    for _ in range(4):
        commit()  # 2..5
    cache.clear()  # Redis restarted: the hint is gone
    assert commit().number == 6
    assert committed_numbers() == [1, 2, 3, 4, 5, 6]


def test_a_marker_counts_as_taken_like_its_claim():
    claim_thread()
    get_log().create(marker_key("b", "1", 7), b"")  # a kept claim 7 went in a tidy that stopped before its marker
    assert commit().number == 8


def test_a_full_thread_commits_nothing():
    claim_thread()
    commit(limit=3)
    commit(limit=3)
    assert commit(limit=3) is None
    assert committed_numbers() == [1, 2, 3]


def test_a_thread_with_no_claim_in_the_log_takes_no_number():
    with pytest.raises(numbers.NotInLog):
        commit()
    assert committed_numbers() == []


def test_concurrent_posters_get_each_number_once():
    claim_thread()
    got: list[int] = []

    def post():
        got.append(commit().number)

    workers = [threading.Thread(target=post) for _ in range(40)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(got) == list(range(2, 42))
    assert committed_numbers() == list(range(1, 42))


# --- the hint -------------------------------------------------------------------------------------


def test_a_fresh_hint_is_used_without_listing_the_log(monkeypatch):
    claim_thread()
    commit()  # 2, and the hint
    listed = count_listings(monkeypatch)
    assert commit().number == 3
    assert listed == []


def test_a_hint_older_than_the_trust_window_is_not_used_the_listing_wins(settings, monkeypatch):
    claim_thread()
    for _ in range(4):
        commit()  # 2..5
    get_log().delete([post_key("b", "1", n) for n in (2, 3, 4)])  # rolled up; 5, the highest, is kept
    old = now_ms() - settings.ROLLUP_GRACE_SECONDS * 1000 // 2 - 1
    cache.set("utakata:hint:b:1", (2, old))  # a hint that would give 3 again
    listed = count_listings(monkeypatch)
    assert commit().number == 6
    assert listed == ["incoming/posts/b/1/"]


def test_the_hint_is_written_with_the_time_before_the_put_that_took_the_number(monkeypatch):
    claim_thread()
    before = now_ms()
    commit()
    hint = threadlock.read_hint("b", "1")
    assert hint.number == 2 and before <= hint.at_ms <= now_ms()


def use_redis_cache(settings, url: str) -> None:
    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": url}}


@pytest.fixture
def redis_cache(settings, fresh_redis):
    """The cache on a real Redis: the hint is raised by the Lua compare-and-set."""
    use_redis_cache(settings, fresh_redis)


@pytest.fixture(params=["locmem", "redis"])
def hint_cache(request):
    """The cache the hint lives in: Django's local-memory cache (under the thread lock), or a real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def test_the_hint_never_moves_down_when_two_commits_finish_out_of_order(hint_cache):
    with threadlock.thread_lock("b", "1") as lock:
        threadlock.raise_hint("b", "1", threadlock.Hint(7, now_ms()), lock)  # the later commit finished first
        threadlock.raise_hint("b", "1", threadlock.Hint(6, now_ms()), lock)
    assert threadlock.read_hint("b", "1").number == 7


def test_on_redis_concurrent_hint_writes_keep_the_highest(redis_cache):
    lock = threadlock.ThreadLock("b", "1")  # not acquired: Redis needs no lock to compare and set
    barrier = threading.Barrier(20)

    def write(number: int) -> None:
        barrier.wait()
        threadlock.raise_hint("b", "1", threadlock.Hint(number, now_ms()), lock)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(20, 0, -1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert threadlock.read_hint("b", "1").number == 20


def test_without_the_thread_lock_a_cache_without_compare_and_set_leaves_the_hint_alone():
    threadlock.raise_hint("b", "1", threadlock.Hint(5, now_ms()), threadlock.ThreadLock("b", "1"))
    assert threadlock.read_hint("b", "1") is None


# --- the lock on Redis: two round trips a post ---------------------------------------------------


def redis_commands(monkeypatch) -> list[str]:
    """Record the commands the cache's Redis client sends from now on."""
    import redis

    sent: list[str] = []
    real = redis.Redis.execute_command

    def execute(self, *args, **options):
        sent.append(str(args[0]))
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", execute)
    return sent


def test_on_redis_taking_the_lock_reads_the_hint_in_the_same_round_trip(redis_cache, monkeypatch):
    threadlock.raise_hint("b", "1", threadlock.Hint(9, now_ms()), threadlock.ThreadLock("b", "1"))
    sent = redis_commands(monkeypatch)
    lock = threadlock.ThreadLock("b", "1")
    assert lock.acquire()
    assert lock.hint.number == 9
    assert sent == ["EVAL"]


def test_on_redis_giving_the_lock_up_raises_the_hint_in_the_same_round_trip(redis_cache, monkeypatch):
    lock = threadlock.ThreadLock("b", "1")
    lock.acquire()
    sent = redis_commands(monkeypatch)
    lock.release(threadlock.Hint(4, now_ms()))
    assert sent == ["EVAL"]
    assert threadlock.read_hint("b", "1").number == 4
    assert threadlock.ThreadLock("b", "1").acquire(wait=0)


def test_on_redis_giving_the_lock_up_never_lowers_the_hint(redis_cache):
    threadlock.raise_hint("b", "1", threadlock.Hint(7, now_ms()), threadlock.ThreadLock("b", "1"))
    lock = threadlock.ThreadLock("b", "1")
    lock.acquire()
    lock.release(threadlock.Hint(6, now_ms()))
    assert threadlock.read_hint("b", "1").number == 7


def test_on_redis_a_lock_that_expired_and_was_taken_again_is_left_to_its_new_holder(redis_cache, monkeypatch):
    monkeypatch.setattr(threadlock, "LOCK_TTL", 0.05)
    first = threadlock.ThreadLock("b", "1")
    first.acquire()
    time.sleep(0.1)
    second = threadlock.ThreadLock("b", "1")
    assert second.acquire(wait=0)
    first.release()
    assert second.held()
    assert not threadlock.ThreadLock("b", "1").acquire(wait=0)


def test_on_redis_a_reply_costs_two_round_trips_for_its_number(redis_cache, monkeypatch):
    claim_thread()
    commit()  # 2, and the hint
    sent = redis_commands(monkeypatch)
    assert commit().number == 3
    assert sent == ["EVAL", "EVAL"]


# --- a cache that is down -------------------------------------------------------------------------


def break_cache(settings) -> None:
    """Point the cache at a Redis nobody listens on: every cache call raises."""
    use_redis_cache(settings, f"redis://127.0.0.1:{services.free_port()}/0")


def test_numbering_goes_on_when_the_cache_raises(settings):
    claim_thread()
    break_cache(settings)
    with pytest.raises(RedisError):
        cache.get("anything")
    assert commit().number == 2
    assert commit().number == 3


def test_posting_goes_on_when_the_cache_raises(settings):
    make_board("test", **UNLIMITED)  # no cooldown: the cooldown is the cache's too, and not numbering's concern
    thread = new_thread(body="1").thread
    break_cache(settings)
    assert reply("test", thread, body="2").number == 2
    assert reply("test", thread, body="3").number == 3


def test_a_new_thread_is_committed_when_the_cache_raises(settings):
    break_cache(settings)
    key = new_thread_key()
    build = lambda n: new_event(EventType.POST_CREATED, "b", key, n, {})  # noqa: E731
    assert numbers.commit_numbered(get_log(), "b", key, build, 1000).number == 2


# --- thread keys ----------------------------------------------------------------------------------


def new_thread_key(now_seconds: int = 1_800_000_000) -> str:
    def build(key: str):
        return new_event(EventType.THREAD_CREATED, "b", key, 1, {})

    return numbers.commit_thread(get_log(), now_seconds, build).thread


def test_thread_key_skips_keys_whose_first_post_is_in_the_log():
    claim_thread("b", "1800000000")
    assert new_thread_key() == "1800000001"


def test_a_taken_thread_key_is_skipped_on_one_listed_claim_not_all_of_them(monkeypatch):
    for n in range(1, 51):
        get_log().create(post_key("b", "1800000000", n), b"{}")
    read: list[str] = []
    real_list = type(get_log()).list

    def listing(self, prefix="", start_after=""):
        for info in real_list(self, prefix, start_after):
            read.append(info.key)
            yield info

    monkeypatch.setattr(type(get_log()), "list", listing)
    build = lambda key: new_event(EventType.THREAD_CREATED, "b", key, 1, {})  # noqa: E731
    assert numbers.commit_thread(confirm.Listing(get_log(), confirm.deadline()), 1_800_000_000, build).thread == (
        "1800000001"
    )
    assert read == [post_key("b", "1800000000", 1)]


def test_thread_key_skips_a_live_thread_whose_first_post_was_rolled_up():
    get_log().create(post_key("b", "1800000000", 5), b"{}")  # only the kept claim and its marker are left
    get_log().create(marker_key("b", "1800000000", 5), b"")
    assert new_thread_key() == "1800000001"


def test_a_grace_period_below_twice_the_thread_key_window_is_refused_at_start():
    env = services.project_env(UTAKATA_ROLLUP_GRACE_SECONDS=str(2 * numbers.KEY_WINDOW - 1))
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: UTAKATA_ROLLUP_GRACE_SECONDS=199 must be at least 200" in done.stderr


# --- the reported sequence: a store that lags after a rollup --------------------------------------


@pytest.fixture(params=["memory", "sqlite", "riak"])
def store_backend(request, settings, tmp_path):
    """The volatile store the write path reads: in memory, an SQLite file, or real Riak nodes."""
    if request.param == "sqlite":
        settings.UTAKATA_STORE = {
            "BACKEND": "board.store.sqlite.SQLiteStore",
            "LOCATION": str(tmp_path / "s.sqlite3"),
            "OPTIONS": {},
        }
        store_module.handler.reset()
    elif request.param == "riak":
        from board.lib.backends import parse_url
        from board.store import SCHEMES

        url = request.getfixturevalue("riak_cluster").url(prefix=f"t{uuid.uuid4().hex[:12]}")
        settings.UTAKATA_STORE = parse_url(url, SCHEMES, "UTAKATA_STORE_URL")
        store_module.handler.reset()
    return request.param


def logged_events() -> list:
    """Every event in the log once per object holding it: hourly segments, then the pending tail."""
    rolled = [e for key in lifecycle_keys(k.HOURLY) if key.endswith(k.DATA) for e in read_segment(key)]
    return rolled + [decode(get_log().read(key)) for key in incoming_keys()]


def lag_store(upto: int) -> None:
    """Make the store what a lagging replica or a power cut left: the log only up to reply number upto."""
    store = get_store()
    store.flush()
    for event in sorted(logged_events(), key=lambda e: e.id):
        if event.number is None or event.number <= upto:
            projection.apply(store, event)


def test_after_a_rollup_a_store_that_lags_does_not_make_a_reply_take_a_used_number(store_backend):
    make_board("test", **UNLIMITED)
    thread = new_thread(body="1").thread
    assert [reply("test", thread, body=str(n)).number for n in range(2, 6)] == [2, 3, 4, 5]
    rollup(get_log(), get_store(), now=datetime.now(UTC) + timedelta(hours=2), grace_period=GRACE)
    lag_store(upto=2)
    assert queries.thread(get_store(), "test", thread).count == 2
    cache.clear()

    assert reply("test", thread, body="6").number == 6

    posts = [e for e in logged_events() if e.thread == thread and e.number is not None]
    assert sorted(e.number for e in posts) == [1, 2, 3, 4, 5, 6]
    assert sorted(e.payload["body"] for e in posts) == ["1", "2", "3", "4", "5", "6"]
    call_command("rehydrate", "--replace", "--no-progress", stdout=StringIO())
    assert queries.thread(get_store(), "test", thread).count == 6
    page = Client().get(f"/test/read.cgi/test/{thread}/").content.decode()
    assert [int(n) for n in NUMBER_RE.findall(page)] == [1, 2, 3, 4, 5, 6]
    dat = Client().get(f"/test/dat/{thread}.dat").content.decode("cp932").splitlines()
    assert [line.split("<>")[3].strip() for line in dat] == ["1", "2", "3", "4", "5", "6"]


def test_a_reply_to_a_thread_with_no_claim_left_in_the_log_is_refused_as_archived():
    make_board("test", **UNLIMITED)
    thread = new_thread(body="1").thread
    reply("test", thread)
    rollup(get_log(), get_store(), now=datetime.now(UTC) + timedelta(hours=2), grace_period=GRACE)
    # What a rollup of an earlier version left: every claim of the thread rolled away.
    get_log().delete([post_key("test", thread, 2), marker_key("test", thread, 2), floor_key("test", thread, 2)])
    cache.clear()
    with pytest.raises(Refused) as refused:
        submit("test", thread, Submission(name="", mail="", body="3"), "192.0.2.1")
    assert refused.value.message == r.ARCHIVED
    assert [e.number for e in logged_events() if e.thread == thread] == [1, 2]
