"""manage.py verifylog: drift between the store and the log, reported per board and thread, repaired."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.store import get_store
from tests.lifecycle_helpers import apply_incoming, post_at, reference_store, store_dump, three_days


def verifylog(*args: str) -> str:
    out = StringIO()
    call_command("verifylog", *args, stdout=out)
    return out.getvalue()


def drift_message(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        verifylog(*args)
    return str(info.value)


def test_a_store_that_matches_the_log_has_no_drift():
    three_days()
    assert "the store matches the log" in verifylog()


def test_lost_fanout_is_reported_for_its_thread():
    timeline = three_days()
    thread = timeline.events[-1].thread
    n = timeline.counts[thread]
    post_at("test", thread, n + 1, timeline.events[-1].datetime)
    post_at("test", thread, n + 2, timeline.events[-1].datetime)
    with pytest.raises(CommandError, match="drift"):
        call_command("verifylog", stdout=(out := StringIO()))
    [line] = [line for line in out.getvalue().splitlines() if line.startswith(f"/test/{thread}: ")]
    assert f"posts {n + 1}-{n + 2} missing from the store" in line
    assert f"count {n} in the store, {n + 2} in the log" in line


def test_repair_completes_what_the_store_lacks():
    timeline = three_days()
    thread = timeline.events[-1].thread
    event = post_at("test", thread, timeline.counts[thread] + 1, timeline.events[-1].datetime)
    out = verifylog("--repair")
    assert "repaired" in out
    assert store_dump() == store_dump(reference_store([*timeline.events, event]))
    assert "the store matches the log" in verifylog()


def test_a_store_ahead_of_the_log_is_reported_and_overwritten_by_repair():
    timeline = three_days()
    before = store_dump()
    thread = timeline.events[-1].thread
    store = get_store()
    entry = e.loads(store.get(o.THREADS, "test"))
    entry["threads"][thread]["count"] = 999
    fetched = store.fetch(o.THREADS, "test")
    store.store(o.THREADS, "test", e.encode(o.THREADS, "test", entry), fetched.context)
    message = verifylog("--repair")
    assert f"/test/{thread}: " in message and "count 999 in the store" in message and "1 overwritten" in message
    assert store_dump() == before


def test_a_deleted_post_the_store_still_shows_is_reported():
    timeline = three_days()
    deleted = next(e for e in timeline.events if e.type == "PostDeleted")
    store = get_store()
    key = o.posts_key("test", deleted.thread, o.page_of(deleted.number))
    fetched = store.fetch(o.POSTS, key)
    page = e.loads(fetched.values[0])
    page["posts"][str(deleted.number)] = {
        "number": deleted.number,
        "name": "x",
        "mail": "",
        "time": 0,
        "id": "",
        "body": "戻ってきた",
        "event": "0",
    }
    store.store(o.POSTS, key, e.encode(o.POSTS, key, page), fetched.context)
    with pytest.raises(CommandError):
        call_command("verifylog", stdout=(out := StringIO()))
    assert f"posts {deleted.number} deleted in the log but shown by the store" in out.getvalue()


def test_a_thread_missing_from_the_store_is_reported():
    three_days()
    get_store().delete(o.THREADS, "test")
    with pytest.raises(CommandError):
        call_command("verifylog", stdout=(out := StringIO()))
    assert "/test/: live thread list missing from the store" in out.getvalue()


def test_events_applied_after_the_check_do_not_count_as_drift():
    three_days()
    apply_incoming()
    assert "matches" in verifylog()
