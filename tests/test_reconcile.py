"""Reconcile: committed events whose fan-out was lost are applied; the rest cost one check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from board.lifecycle.reconcile import apply_counting, reconcile
from board.log import get_log
from board.readmodel import queries
from board.store import get_store
from tests.lifecycle_helpers import apply_incoming, at, board_at, post_at, thread_at

MIN_AGE = timedelta(seconds=60)


def later() -> datetime:
    """Ten minutes from now, when every event just committed is old enough for reconcile.

    Taken when the test runs: in a long session a time taken at import would already be past.
    """
    return datetime.now(UTC) + timedelta(minutes=10)


def lost_fanout() -> str:
    """A board and a thread whose fan-out happened, then a reply whose fan-out was lost."""
    board_at("test", at(0))
    thread = thread_at("test", at(1)).thread
    apply_incoming()
    post_at("test", thread, 2, at(2))
    return thread


def test_reconcile_applies_an_event_whose_fanout_was_lost():
    thread = lost_fanout()
    report = reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    assert report.repaired == [f"incoming/posts/test/{thread}/0002.json"]
    assert queries.thread(get_store(), "test", thread).count == 2


def test_reconcile_leaves_events_young_enough_for_their_fanout_alone():
    lost_fanout()
    report = reconcile(get_log(), get_store(), min_age=MIN_AGE)
    assert report.young == 3 and report.checked == 0


def test_reconcile_writes_nothing_for_events_already_applied():
    lost_fanout()
    apply_incoming()
    report = reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    assert report.checked == 3 and report.repaired == []


def test_an_event_is_read_by_reconcile_once(monkeypatch):
    lost_fanout()
    reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    reads = []
    log = get_log()
    real_read = type(log).read
    monkeypatch.setattr(type(log), "read", lambda self, key: reads.append(key) or real_read(self, key))
    report = reconcile(log, get_store(), now=later(), min_age=MIN_AGE)
    assert report.known == 3 and reads == []


def test_after_a_cache_flush_reconcile_checks_again_and_changes_nothing():
    lost_fanout()
    reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    cache.clear()
    report = reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    assert report.checked == 3 and report.repaired == []


def test_apply_counting_tells_a_new_event_from_a_repeated_one():
    board_at("test", at(0))
    event = thread_at("test", at(1))
    assert apply_counting(get_store(), event) is True
    assert apply_counting(get_store(), event) is False


def test_during_the_dual_write_of_a_rebuild_reconcile_repairs_both_generations():
    board_at("test", at(0))
    event = thread_at("test", at(1))
    staging = get_store().staging()
    staging.start_dual_write()
    assert apply_counting(get_store(), event) is True, "the current generation lacked it"
    assert queries.thread(staging, "test", event.thread) is not None, "the generation being built has it too"


def test_an_unreadable_incoming_object_is_reported_not_applied():
    lost_fanout()
    get_log().create("incoming/events/garbage.json", b"[]")
    report = reconcile(get_log(), get_store(), now=later(), min_age=MIN_AGE)
    assert report.skipped == [("incoming/events/garbage.json", "not an event: not a JSON object")]


def test_the_task_runs_reconcile(caplog):
    from board.tasks.lifecycle import reconcile_fanout

    lost_fanout()
    caplog.set_level("INFO")
    reconcile_fanout.run()
    assert "reconcile: 3 incoming object(s)" in caplog.text
