"""The board with its store on real Riak nodes: the same pages as on SQLite, and few requests per read.

The log is the in-memory one (the log is not what these tests are about);
every store operation is HTTP to the session's Riak cluster.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.test import Client

from board import store as store_module
from board.boards import UNLIMITED
from board.lib.backends import parse_url
from board.lifecycle import keys as k
from board.lifecycle import rehydrate
from board.lifecycle.plan import plan_restore
from board.lifecycle.rollup import hourly_manifest
from board.lifecycle.segments import SegmentWriter, upload
from board.log.local import LocalLog
from board.posting.commit import Posted, submit
from board.posting.validation import Submission
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import SCHEMES, changes, get_store
from board.store.riak import store as riak_store
from tests.helpers import DECEMBER, apply_pending, archived_thread, make_board
from tests.lifecycle_helpers import T0, long_history, page_urls, render_all, three_days


@pytest.fixture
def on_riak(riak_cluster, settings, request):
    """The store setting pointed at the Riak cluster, under buckets of this test's own.

    Without change tokens, as the counts below are stated; parametrized indirectly
    with "tokens", with them in the session's Redis, as settings give a deployment.
    """
    options = {"changes": request.getfixturevalue("fresh_redis")} if getattr(request, "param", "") == "tokens" else {}
    url = riak_cluster.url(prefix=f"t{uuid.uuid4().hex[:12]}", **options)
    config = parse_url(url, SCHEMES, "UTAKATA_STORE_URL")
    settings.UTAKATA_STORE = config
    store_module.handler.reset()
    yield get_store()
    store_module.handler.reset()


@pytest.fixture
def requests_made(on_riak, monkeypatch, settings):
    """Every HTTP request the Riak store sends, by method, with the board's settings, the pointer and kept reads warm.

    All three are read again about once a second per process (README, "Store requests per read"); on a loaded
    machine a second can pass between two requests of one test, and the count would include them.
    """
    settings.SETTINGS_TTL = 3600
    monkeypatch.setattr(on_riak, "pointer_ttl", 3600.0)
    # Kept reads too: one older than MAX_AGE is read again even while its token holds.
    monkeypatch.setattr(changes, "MAX_AGE", 3600.0)
    made: list[str] = []
    real = riak_store.request

    def counting(cluster, method, url, *args, **kwargs):
        made.append(method)
        return real(cluster, method, url, *args, **kwargs)

    monkeypatch.setattr(riak_store, "request", counting)
    return made


def posted(board: str, thread: str | None, body: str, subject: str = "") -> Posted:
    """Post through the write path and apply just that event, as its fan-out would."""
    done = submit(board, thread, Submission(body=body, subject=subject), "192.0.2.1")
    apply(get_store(), done.event)
    return done


def thread_of(count: int, board: str = "test") -> str:
    key = posted(board, None, "1", subject="スレ").thread
    for n in range(2, count + 1):
        posted(board, key, f"{n} >>1 http://example.com/{n}")
    return key


def test_pages_on_riak_are_the_pages_on_the_in_memory_store(on_riak, settings):
    three_days()
    on_riak_pages = render_all(page_urls())
    settings.UTAKATA_STORE = {"BACKEND": "board.store.memory.MemoryStore", "LOCATION": uuid.uuid4().hex}
    store_module.handler.reset()
    from board.lifecycle.plan import plan_restore
    from board.lifecycle.rehydrate import restore
    from board.log import get_log

    restore(get_log(), get_store(), plan_restore(get_log()))
    assert render_all(page_urls()) == on_riak_pages


def test_a_flushed_riak_store_is_rehydrated_to_byte_identical_pages(on_riak):
    from django.core.management import call_command

    three_days()
    before = render_all(page_urls())
    on_riak.flush()
    assert on_riak.is_empty()
    call_command("rehydrate", "--no-progress", "--workers", "2")
    assert render_all(page_urls()) == before


# --- requests per read (README, "Store requests per read") ------------------------------


def counted(made: list[str], action) -> Counter:
    made.clear()
    action()
    return Counter(made)


@pytest.fixture
def busy_board(on_riak):
    make_board("test", "テスト板", **UNLIMITED, top_threads=10, top_posts=5)
    threads = [thread_of(5) for _ in range(3)]
    big = thread_of(2 * o.POSTS_PER_PAGE + 12)  # the last 50 span three pages
    return {"threads": threads, "big": big}


def test_a_thread_page_l50_costs_at_most_four_requests(busy_board, requests_made):
    client = Client()
    url = f"/test/read.cgi/test/{busy_board['big']}/l50"
    assert client.get(url).status_code == 200  # warm: the board's settings are kept for a second
    made = counted(requests_made, lambda: client.get(url))
    assert sum(made.values()) <= 4, made


def test_a_dat_range_poll_and_a_304_cost_at_most_four_requests(busy_board, requests_made):
    client = Client()
    url = f"/test/dat/{busy_board['big']}.dat"
    full = client.get(url)
    poll = counted(requests_made, lambda: client.get(url, HTTP_RANGE=f"bytes={len(full.content) - 1}-"))
    assert sum(poll.values()) <= 4, poll
    answers = []
    again = counted(requests_made, lambda: answers.append(client.get(url, HTTP_IF_NONE_MATCH=full["ETag"])))
    assert answers[0].status_code == 304, answers[0]  # else the thread changed between the two reads
    assert sum(again.values()) == 1, again  # the thread object alone


def test_subject_txt_costs_at_most_four_requests(busy_board, requests_made):
    client = Client()
    client.get("/test/subject.txt")
    made = counted(requests_made, lambda: client.get("/test/subject.txt"))
    assert sum(made.values()) <= 4, made


def test_the_board_top_costs_at_most_four_plus_one_per_digest(busy_board, requests_made):
    client = Client()
    client.get("/test/")
    made = counted(requests_made, lambda: client.get("/test/"))
    digests = 4  # every live thread of this board is shown as a digest
    assert sum(made.values()) <= 4 + digests, made


def test_an_archive_month_page_costs_two_plus_the_windows_a_page_reads(on_riak, requests_made, monkeypatch):
    make_board("test", "テスト板", **UNLIMITED)
    monkeypatch.setattr(queries, "ARCHIVE_PAGE_WINDOWS", 4)
    monkeypatch.setattr(queries, "ARCHIVE_BATCH", 2)
    for i in range(8):  # eight windows of one thread: sparse, so the windows' bound ends the page
        archived_thread(DECEMBER + 5000 * i)
    client = Client()
    client.get("/test/kako/")
    made = counted(requests_made, lambda: client.get("/test/kako/"))
    assert sum(made.values()) <= 2 + 4, made  # the board's months, the month's windows, then 4 windows


def test_a_reply_end_to_end_costs_a_bounded_number_of_requests(busy_board, requests_made):
    thread = busy_board["threads"][0]
    made = counted(requests_made, lambda: posted("test", thread, "数える"))
    # Posting reads the thread and the day's bans (the board is kept); applying reads and
    # writes the page, the thread object, the live list and the moderators' search slot, reads
    # the slot's day index, and reads the first two back merged (with siblings, derived
    # writes describe what readers will see). None of it grows with the board.
    assert sum(made.values()) <= 16, made


WARM_READS = {
    "l50": lambda big: {"path": f"/test/read.cgi/test/{big}/l50"},
    "dat poll": lambda big: {"path": f"/test/dat/{big}.dat", "HTTP_RANGE": "bytes=100-"},
    "subject.txt": lambda big: {"path": "/test/subject.txt"},
    "board top": lambda big: {"path": "/test/"},
}


@pytest.mark.parametrize("on_riak", ["tokens"], indirect=True)
@pytest.mark.parametrize("read", WARM_READS)
def test_with_change_tokens_a_read_again_sends_no_riak_request(busy_board, requests_made, read):
    client = Client()
    asked = WARM_READS[read](busy_board["big"])
    assert client.get(**asked).status_code in (200, 206)
    made = counted(requests_made, lambda: client.get(**asked))
    assert sum(made.values()) == 0, made


@pytest.mark.parametrize("on_riak", ["tokens"], indirect=True)
def test_with_change_tokens_a_replys_submit_sends_no_riak_request(busy_board, requests_made):
    thread = busy_board["threads"][0]
    posted("test", thread, "温める")
    made = counted(requests_made, lambda: submit("test", thread, Submission(body="数える"), "192.0.2.1"))
    assert sum(made.values()) == 0, made


def test_the_live_list_holds_only_live_threads_whatever_the_boards_age(on_riak):
    make_board("test", "テスト板", **UNLIMITED, thread_cap=3)
    for _ in range(8):  # more threads than the cap: five fell into the archive
        posted("test", None, "本文", subject="スレ")
    apply_pending()  # the archivals' fan-out
    state = e.loads(on_riak.get(o.THREADS, "test", lambda values: values[0]))
    assert sum(1 for entry in state["threads"].values() if entry["state"] == "live") == 3


def segment_log(directory, events: list) -> LocalLog:
    """A file log whose only data is one hourly segment holding events (as a rollup writes it)."""
    log = LocalLog(str(directory))
    writer = SegmentWriter()
    with writer:
        for event in events:
            writer.write(event)
        stats = writer.finish()
        hour = T0.replace(minute=0)
        key = k.hourly_key(hour)
        upload(log, writer, hourly_manifest(key, hour, 0, stats), k.manifest_key(key))
    return log


@pytest.fixture
def riak_requests(monkeypatch) -> list[tuple[str, str]]:
    """(method, path) of every request the Riak store sends from this process."""
    made: list[tuple[str, str]] = []
    real = riak_store.request

    def counting(cluster, method, url, *args, **kwargs):
        made.append((method, url.split("?")[0]))
        return real(cluster, method, url, *args, **kwargs)

    monkeypatch.setattr(riak_store, "request", counting)
    return made


def test_a_restore_into_an_empty_riak_store_writes_each_object_about_once(
    on_riak, riak_requests, monkeypatch, tmp_path
):
    """A cache far smaller than the board: an object is written when evicted or at the end, not at every eviction."""
    log = segment_log(tmp_path, long_history())
    monkeypatch.setattr(rehydrate, "RESTORE_OBJECTS", 100)
    made = riak_requests
    rehydrate.restore(log, on_riak, plan_restore(log), workers=1)
    puts = [url for method, url in made if method == "PUT"]
    objects = len(set(puts))
    assert objects > 400, "the log holds far more objects than the cache"
    assert len(puts) <= 1.1 * objects, Counter(puts).most_common(3)
    reads = [url for method, url in made if method == "GET" and "/keys/" in url]
    assert len(reads) <= 0.05 * objects, Counter(reads).most_common(3)


def test_a_restore_into_an_empty_riak_store_copies_the_snapshots_image_one_put_an_object(
    on_riak, riak_requests, tmp_path
):
    from datetime import timedelta

    from board.lifecycle import images
    from board.lifecycle.snapshot import latest, make_snapshot

    log = segment_log(tmp_path, long_history())
    make_snapshot(log, now=T0 + timedelta(days=1))
    image = images.Image.of(latest(log))
    report = rehydrate.restore(log, on_riak, plan_restore(log), workers=2)
    assert "image copied" in report.image
    puts = [url for method, url in riak_requests if method == "PUT" and "/keys/" in url]
    assert image.objects > 400 and len(puts) <= image.objects + 2, Counter(puts).most_common(3)  # + the mark
    for bucket, key, value in images.objects(log, image):
        assert on_riak.get(bucket, key, lambda values: values[0]) == value, (bucket, key)


def test_a_restore_in_two_processes_into_an_empty_riak_store_writes_each_object_about_once(
    on_riak, monkeypatch, tmp_path
):
    """Each process owns a share of the search index's shards as well as of the threads (board/lifecycle/shards.py):
    split by thread alone, both wrote every 10-minute slot, and Riak kept the two as siblings."""
    log = segment_log(tmp_path, long_history())
    made = tmp_path / "puts"
    real = riak_store.request

    def counting(cluster, method, url, *args, **kwargs):
        if method == "PUT":
            with made.open("a") as puts:  # the forked processes append here too, a whole line at a time
                puts.write(url.split("?")[0] + "\n")
        return real(cluster, method, url, *args, **kwargs)

    monkeypatch.setattr(riak_store, "request", counting)
    rehydrate.restore(log, on_riak, plan_restore(log), workers=2)
    puts = made.read_text().splitlines()
    objects = len(set(puts))
    assert objects > 400, "the log holds far more objects than the cache"
    assert len(puts) <= 1.1 * objects, Counter(puts).most_common(3)
