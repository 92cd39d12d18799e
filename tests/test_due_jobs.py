"""Jobs started when the log says they are due (board/lifecycle/due.py), under a lease.

The looks are taken of a real log (in memory) at a chosen "now"; the leases
live in a real Redis, where two ticks really race.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from board.lifecycle import due
from board.lifecycle import state as logstate
from board.lifecycle.rollup import rollup
from board.lifecycle.snapshot import make_snapshot
from board.log import get_log
from board.store import get_store
from tests.lifecycle_helpers import T0, at, board_at, post_at, thread_at


@pytest.fixture
def redis_cache(settings, fresh_redis):
    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": fresh_redis}}


def now() -> datetime:
    """The log's clock: which hours are closed is judged by when its objects were written."""
    return datetime.now(UTC)


def an_hour_rolled_up() -> datetime:
    """A board and a thread of T0, rolled up two hours later; returns that time.

    T0 is 09:00: no day ends within these tests, whenever they run, so no
    segment of theirs waits to be bundled.
    """
    start = T0
    board_at("test", start)
    thread_at("test", start)
    later = start + timedelta(hours=2)
    rollup(get_log(), get_store(), now=later)
    return later


def test_the_rollup_is_due_once_an_event_of_a_closed_hour_waits():
    board_at("test", now())
    state = logstate.look(get_log(), now() + timedelta(hours=2))
    assert due.ROLLUP in due.due(state)


def test_the_rollup_is_not_due_while_every_waiting_event_is_in_an_open_hour():
    board_at("test", now())
    assert due.ROLLUP not in due.due(logstate.look(get_log(), now()))


def test_a_first_snapshot_is_due_once_an_hour_is_rolled_up():
    later = an_hour_rolled_up()
    assert due.due(logstate.look(get_log(), later)) == {due.SNAPSHOT: "no snapshot yet, 1 hourly segment(s)"}


def test_a_snapshot_is_due_when_latest_is_older_than_the_interval_and_new_segments_wait(settings):
    later = an_hour_rolled_up()
    make_snapshot(get_log(), now=later - timedelta(hours=settings.SNAPSHOT_INTERVAL_HOURS))
    post_at("test", "1", 2, at(5))
    rollup(get_log(), get_store(), now=later)
    assert due.SNAPSHOT in due.due(logstate.look(get_log(), later))


def test_a_snapshot_is_not_due_while_latest_is_younger_than_the_interval():
    later = an_hour_rolled_up()
    make_snapshot(get_log(), now=later - timedelta(hours=1))
    post_at("test", "1", 2, at(5))
    rollup(get_log(), get_store(), now=later)
    assert due.due(logstate.look(get_log(), later)) == {}


def test_nothing_is_due_once_latest_holds_every_segment():
    later = an_hour_rolled_up()
    make_snapshot(get_log(), now=later - timedelta(days=3))
    assert due.due(logstate.look(get_log(), later + timedelta(days=2))) == {}


def test_two_ticks_at_once_start_one_job(redis_cache):
    board_at("test", now())
    state = logstate.look(get_log(), now() + timedelta(hours=2))
    sent: list[tuple[str, str]] = []
    barrier = threading.Barrier(8)

    def tick() -> None:
        barrier.wait()
        due.start_due(state, send=lambda job, token: sent.append((job, token)))

    ticks = [threading.Thread(target=tick) for _ in range(8)]
    for t in ticks:
        t.start()
    for t in ticks:
        t.join()
    assert [job for job, _ in sent] == [due.ROLLUP]


def test_the_run_a_tick_started_holds_the_lease_and_gives_it_up_when_done(redis_cache):
    token = due.lease(due.ROLLUP).take()
    with due.holding(due.ROLLUP, token) as held:
        assert held is not None and due.lease(due.ROLLUP).holder() == held.token
    assert due.lease(due.ROLLUP).holder() is None


def test_a_redelivered_copy_of_a_running_job_is_skipped(redis_cache):
    token = due.lease(due.ROLLUP).take()
    with due.holding(due.ROLLUP, token) as first, due.holding(due.ROLLUP, token) as copy:
        assert first is not None and copy is None


def test_a_second_run_while_one_holds_the_lease_is_skipped(redis_cache):
    due.lease(due.SNAPSHOT).take()
    with due.holding(due.SNAPSHOT, None) as held:
        assert held is None


def test_a_run_whose_queued_lease_lapsed_takes_it_again(redis_cache):
    with due.holding(due.SNAPSHOT, "token-of-a-tick-long-ago") as held:
        assert held is not None and due.lease(due.SNAPSHOT).holder() == held.token


def test_a_failed_run_rests_so_that_the_next_tick_does_not_start_it_again(redis_cache):
    board_at("test", now())
    state = logstate.look(get_log(), now() + timedelta(hours=2))
    token = due.lease(due.ROLLUP).take()
    with due.holding(due.ROLLUP, token) as held:
        held.failed()
    assert due.start_due(state, send=lambda job, token: None) == {}
    assert due.lease(due.ROLLUP).holder() == held.token


def test_a_run_that_raises_rests_too(redis_cache):
    with pytest.raises(RuntimeError), due.holding(due.ROLLUP, None):
        raise RuntimeError("the log is down")
    assert due.lease(due.ROLLUP).holder() is not None


def test_a_run_that_found_nothing_to_do_rests_too(redis_cache):
    with due.holding(due.SNAPSHOT, None) as held:
        held.rest()
    assert due.lease(due.SNAPSHOT).holder() == held.token
