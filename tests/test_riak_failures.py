"""Riak nodes fail, the board goes on: a node killed under load, a node rebuilt empty, the whole cluster lost.

These run on the session's 4-node cluster (tests/riak_nodes.py), in this
order: the destructive ones last, each leaving the cluster whole again.
With 4 nodes and n_val 3 every preflist has three distinct nodes, so a
single failure is a real test of the quorums (riakctl's README).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from board import store as store_module
from board.boards import UNLIMITED
from board.events import EventType, new_event
from board.lib.backends import parse_url
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import projection, queries
from board.store import SCHEMES, StoreError, get_store
from board.store.riak import RiakStore
from tests.helpers import apply_pending, make_board
from tests.lifecycle_helpers import page_urls, render_all, three_days

pytestmark = pytest.mark.slow

FAST_FAILOVER = {"connect_timeout": "1", "read_timeout": "5", "retry_after": "2"}


@pytest.fixture
def prefix():
    return f"t{uuid.uuid4().hex[:12]}"


def use_store(settings, url: str) -> None:
    settings.UTAKATA_STORE = parse_url(url, SCHEMES, "UTAKATA_STORE_URL")
    store_module.handler.reset()


def store_on(cluster, prefix: str, nodes: list[int] | None = None, **options: str) -> RiakStore:
    config = parse_url(cluster.url(nodes, prefix=prefix, **options), SCHEMES, "UTAKATA_STORE_URL")
    return RiakStore(config["LOCATION"], config["OPTIONS"])


def dat_lines(board: str, thread: str) -> list[str]:
    return Client().get(f"/{board}/dat/{thread}.dat").content.decode("cp932").splitlines()


def test_two_workers_on_different_nodes_applying_one_thread_lose_nothing(riak_cluster, prefix, settings):
    use_store(settings, riak_cluster.url(prefix=prefix))
    make_board("test", "テスト板", **UNLIMITED)
    thread = "1796000000"
    payload = {"name": "名無しさん", "mail": "", "body": "1", "id": "", "subject": "競争"}
    events = [new_event(EventType.THREAD_CREATED, "test", thread, 1, payload)]
    for number in range(2, 121):
        body = {"name": "名無しさん", "mail": "", "body": f"レス{number}", "id": ""}
        events.append(new_event(EventType.POST_CREATED, "test", thread, number, body))
    workers = [store_on(riak_cluster, prefix, [1]), store_on(riak_cluster, prefix, [4])]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(store, mine):
        try:
            start.wait()
            for event in mine:
                projection.apply(store, event)
        except BaseException as exc:  # reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        # Each worker takes every other event: neighbours land in one page at once, from two coordinators.
        runs = [threading.Thread(target=work, args=(w, events[i::2])) for i, w in enumerate(workers)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(300)
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    reader = store_on(riak_cluster, prefix, [2])
    assert queries.thread(reader, "test", thread).count == 120
    posts = queries.posts(reader, "test", thread, list(range(1, 121)))
    assert [p["body"] for p in posts[1:]] == [f"レス{n}" for n in range(2, 121)]
    assert len(dat_lines("test", thread)) == 120


def test_a_node_killed_under_posting_load_loses_no_acknowledged_post(riak_cluster, prefix, settings):
    use_store(settings, riak_cluster.url(prefix=prefix, **FAST_FAILOVER))
    make_board("test", "テスト板", **UNLIMITED)
    first = submit("test", None, Submission(subject="負荷", body="1"), "192.0.2.1")
    projection.apply(get_store(), first.event)
    acknowledged, refused = [], []
    stop = threading.Event()

    def poster(n: int) -> None:
        store_module.handler.reset()  # a store instance per thread, as gunicorn's threads have
        while not stop.is_set():
            try:
                done = submit("test", first.thread, Submission(body=f"負荷{n}"), f"192.0.2.{n}")
            except (Refused, StoreError) as exc:
                refused.append(exc)  # told "not saved": nothing was committed
                continue
            acknowledged.append(done.number)
            with contextlib.suppress(StoreError):  # committed; fan-out (here: the catch-up below) applies it later
                projection.apply(get_store(), done.event)

    deadline = time.monotonic() + 180

    def until_acknowledged(count: int) -> None:
        while len(acknowledged) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"posting stalled at {len(acknowledged)} acknowledged; refused: {refused[-3:]}")
            stop.wait(0.1)

    posters = [threading.Thread(target=poster, args=(n,)) for n in range(3)]
    for p in posters:
        p.start()
    try:
        until_acknowledged(40)
        riak_cluster.kill(2)
        until_acknowledged(len(acknowledged) + 60)
    finally:
        stop.set()
        for p in posters:
            p.join(60)
    try:
        apply_pending()  # what the workers and reconcile do for fan-outs that failed
        count = queries.thread(get_store(), "test", first.thread).count
        assert sorted(acknowledged) == list(range(2, count + 1)), "every acknowledged number, once, no gap"
        assert len(dat_lines("test", first.thread)) == count
    finally:
        riak_cluster.restart(2)


def test_a_node_rebuilt_with_an_empty_disk_is_refilled_and_serves_identical_pages(riak_cluster, prefix, settings):
    use_store(settings, riak_cluster.url(prefix=prefix))
    three_days()
    urls = page_urls()
    before = render_all(urls)
    riak_cluster.replace(3)
    riak_cluster.kill(1)  # with another node down, the rebuilt node's replicas must be there
    try:
        use_store(settings, riak_cluster.url([3], prefix=prefix, **FAST_FAILOVER))
        assert render_all(urls) == before
    finally:
        riak_cluster.restart(1)


def test_a_wiped_cluster_is_rehydrated_to_byte_identical_pages(riak_cluster, prefix, settings):
    use_store(settings, riak_cluster.url(prefix=prefix))
    three_days()
    urls = page_urls()
    before = render_all(urls)
    riak_cluster.wipe()
    store_module.handler.reset()
    assert get_store().is_empty()
    call_command("rehydrate", "--if-empty", "--no-progress")
    assert render_all(urls) == before
