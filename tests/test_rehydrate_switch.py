"""The switch of ``rehydrate --replace`` on the stores other processes share (SQLite, Riak).

Fan-out workers are other processes: each trusts the generation pointer it
read for generation_ttl seconds. The soak (bench/soak) saw a reader lose a
reply for a moment at the switch: a worker still holding the old pointer had
applied it to the old generation only, after the rebuild's last catch-up.
These tests play such a worker at the two moments that matter and look at the
new generation the moment the pointer switches, before any follow poll.
"""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command

from board.readmodel import projection, queries
from board.store import get_store
from tests.lifecycle_helpers import UNLIMITED, Timeline, apply_incoming


@pytest.fixture(params=["sqlite", "riak"])
def shared_store(request, settings, tmp_path):
    """The store setting of a backend several processes share."""
    from board import store as store_module

    if request.param == "sqlite":
        settings.UTAKATA_STORE = {
            "BACKEND": "board.store.sqlite.SQLiteStore",
            "LOCATION": str(tmp_path / "store.sqlite3"),
            "OPTIONS": {},
        }
    else:
        from board.lib.backends import parse_url
        from board.store import SCHEMES

        config = parse_url(request.getfixturevalue("riak_cluster").url(), SCHEMES, "UTAKATA_STORE_URL")
        # Buckets of its own through a prefix nobody else uses.
        settings.UTAKATA_STORE = {**config, "OPTIONS": {**config["OPTIONS"], "prefix": f"t{uuid.uuid4().hex[:12]}"}}
    store_module.handler.reset()
    yield request.param
    store_module.handler.reset()


def another_process():
    """A store instance as another process (a fan-out worker, a reader) holds one: its own pointer cache."""
    live = get_store()
    return type(live)(live.location, live.options)


def a_board_with_a_thread() -> tuple[Timeline, str]:
    timeline = Timeline()
    timeline.board(0, title="テスト板", **UNLIMITED)
    thread = timeline.thread(10, subject="スレ", body="本文")
    timeline.reply(20, thread, body="一つ目")
    apply_incoming()
    return timeline, thread


def bodies(store, thread: str, numbers: list[int]) -> list[str]:
    return [post["body"] for post in queries.posts(store, "test", thread, numbers)]


def watch_the_switch(monkeypatch, thread: str, numbers: list[int]) -> list[list[str]]:
    """What a reader reading the pointer afresh finds the moment promote() has switched it."""
    store_class = type(get_store())
    real_promote = store_class.promote
    seen = []

    def promote(self):
        real_promote(self)
        seen.append(bodies(another_process(), thread, numbers))

    monkeypatch.setattr(store_class, "promote", promote)
    return seen


def test_a_reply_a_worker_applied_with_the_pointer_from_before_the_dual_write_is_there_at_the_switch(
    shared_store, monkeypatch
):
    timeline, thread = a_board_with_a_thread()
    worker = another_process()
    store_class = type(get_store())
    real_start = store_class.start_dual_write
    late = []

    def start_dual_write(self):
        worker.pointer()  # read the moment before: the worker trusts it for generation_ttl
        real_start(self)
        late.append(timeline.reply(30, thread, body="切り替え直前の書き込み"))
        assert worker.dual_twin() is None, "the worker still holds the pointer without the dual write"
        projection.apply(worker, timeline.events[-1])  # into the old generation only

    monkeypatch.setattr(store_class, "start_dual_write", start_dual_write)
    seen = watch_the_switch(monkeypatch, thread, late)
    call_command("rehydrate", "--no-progress", "--replace", stdout=io.StringIO())
    assert seen == [["切り替え直前の書き込み"]], "readers switched to a generation without the reply they saw"


def test_a_reply_applied_after_the_last_catch_up_just_before_the_switch_is_there_at_the_switch(
    shared_store, monkeypatch
):
    timeline, thread = a_board_with_a_thread()
    store_class = type(get_store())
    real_promote = store_class.promote
    late = []

    def apply_then_promote(self):
        # After the last catch-up round: only the dual write can bring it into the new generation.
        late.append(timeline.reply(30, thread, body="切り替え直前の書き込み"))
        projection.apply(another_process(), timeline.events[-1])
        real_promote(self)

    monkeypatch.setattr(store_class, "promote", apply_then_promote)
    seen = watch_the_switch(monkeypatch, thread, late)
    call_command("rehydrate", "--no-progress", "--replace", stdout=io.StringIO())
    assert seen == [["切り替え直前の書き込み"]], "readers switched to a generation without the reply they saw"
    assert bodies(get_store(), thread, late) == ["切り替え直前の書き込み"]
