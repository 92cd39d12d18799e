"""Recovery with real processes: a rollup SIGKILLed mid-way, a worker SIGKILLed mid-fan-out, --follow.

Everything here runs as it does in production: manage.py and Celery workers
as subprocesses (tests/processes.py), gunicorn in front, a real Redis broker,
a real S3 endpoint or a file log, and the SQLite store file. The test reads
the same log and store files to check what the processes left behind.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests

from board.boards import UNLIMITED
from board.events import EventType, encode, new_event
from board.lifecycle import keys as k
from board.lifecycle.tail import pending
from board.log.layout import INCOMING, floor_key, incoming_key, marker_key, post_key
from board.log.local import LocalLog
from board.readmodel import queries
from board.store.sqlite import SQLiteStore
from tests import processes, services
from tests.lifecycle_helpers import normalise, page_diff
from tests.processes import eventually

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def file_env(tmp_path):
    return services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        UTAKATA_LOG_URL=f"file://{tmp_path / 'log'}",
        UTAKATA_STORE_URL=f"sqlite://{tmp_path / 'store.sqlite3'}",
    )


def past_history(log: LocalLog, hours: int, per_hour: int) -> list:
    """A board with one thread per hour and replies, committed hours ago, straight to the log."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours + 2)
    made = [new_event(EventType.BOARD_CREATED, "test", payload={"title": "テスト板", **UNLIMITED}, at=start)]
    for hour in range(hours):
        base = start + timedelta(hours=hour, minutes=1)
        key = str(int(base.timestamp()))
        payload = {"name": "名無しさん", "mail": "", "body": "1", "id": "", "subject": f"{hour}時のスレ"}
        made.append(new_event(EventType.THREAD_CREATED, "test", key, 1, payload, at=base))
        for n in range(2, per_hour + 1):
            body = {"name": "名無しさん", "mail": "sage" if n % 3 else "", "body": f"{n}", "id": ""}
            made.append(new_event(EventType.POST_CREATED, "test", key, n, body, at=base + timedelta(seconds=n * 3)))
    for event in made:
        log.create(incoming_key(event), encode(event))
    return made


def test_a_rollup_sigkilled_mid_way_and_run_again_loses_and_doubles_nothing(file_env, tmp_path):
    log = LocalLog(str(tmp_path / "log"))
    made = past_history(log, hours=16, per_hour=150)
    rollup = processes.Service("rollup", [sys.executable, str(ROOT / "manage.py"), "rollup"], file_env, tmp_path)
    try:
        # A manifest alone is not far enough: the hour's incoming objects go only after it.
        eventually(lambda: sum(1 for _ in pending(log.list(INCOMING))) < len(made), 60, "a first hour rolled up")
        rollup.kill()  # SIGKILL, mid-way: the first hours are rolled up, the others are not
    finally:
        rollup.kill()
    left = [info.key for info in pending(log.list(INCOMING))]
    assert 0 < len(left) < len(made), "killed mid-way"

    processes.manage(file_env, "rollup")
    assert list(pending(log.list(INCOMING))) == []
    kept = sorted(info.key for info in log.list(INCOMING))
    tops = [e for e in made if e.number == 150]
    assert kept == sorted(key(e.board, e.thread, 150) for e in tops for key in (post_key, marker_key, floor_key)), (
        "each thread's highest claim is kept, marked as rolled up, its floor there"
    )
    ids = [e.id for info in log.list(k.HOURLY) if info.key.endswith(k.DATA) for e in read_segment_at(log, info.key)]
    assert sorted(ids) == sorted(e.id for e in made), "every event once, none lost, none doubled"
    assert "the store matches the log" in processes.manage(file_env, "verifylog").stdout


def read_segment_at(log: LocalLog, key: str):
    import gzip

    from board.events import decode

    return [decode(line) for line in gzip.decompress(log.read(key)).splitlines()]


def test_rehydrate_follow_applies_new_commits_and_stops_cleanly_on_sigterm(file_env, tmp_path):
    log = LocalLog(str(tmp_path / "log"))
    made = past_history(log, hours=1, per_hour=5)
    argv = [sys.executable, str(ROOT / "manage.py"), "rehydrate", "--follow", "--interval", "0.1", "--no-progress"]
    follower = processes.Service("follow", argv, file_env, tmp_path)
    try:
        follower.wait_for_output("following the log", timeout=60)
        thread = made[1].thread
        late = new_event(EventType.POST_CREATED, "test", thread, 6, {"name": "x", "mail": "", "body": "後", "id": ""})
        log.create(incoming_key(late), encode(late))
        follower.wait_for_output("applied 1 new event(s)", timeout=10)
        follower.proc.terminate()  # SIGTERM, as a container stop sends
        assert follower.proc.wait(10) == 0
    finally:
        follower.kill()
    assert "stopped following; 1 event(s) applied meanwhile" in follower.output()
    store = SQLiteStore(str(tmp_path / "store.sqlite3"))
    assert queries.thread(store, "test", thread).count == 6
    store.close()


# --- the worker SIGKILLed mid-fan-out, Redis flushed, on S3 -------------------------------


@pytest.fixture
def s3_env(tmp_path, fresh_redis, s3_endpoint, s3_bucket):
    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        REDIS_URL=fresh_redis,
        UTAKATA_LOG_URL=f"s3://{s3_bucket}/board",
        UTAKATA_S3_ENDPOINT_URL=s3_endpoint,
        UTAKATA_STORE_URL=f"sqlite://{tmp_path / 'store.sqlite3'}?timeout=60",
        UTAKATA_RECONCILE_MIN_AGE_SECONDS="0",
    )
    processes.seed_board(env, "test", "テスト板", **UNLIMITED, res_max=30)
    return env


def pages(base_url: str, board: str) -> dict[str, tuple[int, bytes]]:
    """Every page of the board as a fresh reader sees it (no cookies: no read-your-writes catch-up)."""
    session = requests.Session()
    subject = session.get(f"{base_url}/{board}/subject.txt", timeout=30)
    keys = re.findall(rb"^(\d+)\.dat<>", subject.content, re.M)
    urls = ["/", f"/{board}/", f"/{board}/subject.txt", f"/{board}/SETTING.TXT", "/bbsmenu.html"]
    for key in (key.decode() for key in keys):
        urls += [f"/test/read.cgi/{board}/{key}/", f"/{board}/dat/{key}.dat"]
    found = {}
    for url in urls:
        response = session.get(base_url + url, timeout=30)
        body = response.content
        if b"csrfmiddlewaretoken" in body:
            body = normalise(body.decode()).encode()
        found[url] = (response.status_code, body)
    return found


def posts_in_store(path: Path, thread: str) -> list[int]:
    store = SQLiteStore(str(path))
    try:
        return [p["number"] for p in queries.posts(store, "test", thread, list(range(1, 31)))]
    finally:
        store.close()


def test_after_a_worker_is_sigkilled_mid_fanout_reconcile_and_rehydrate_give_the_same_pages(
    s3_env, tmp_path, fresh_redis
):
    store_path = tmp_path / "store.sqlite3"
    with processes.gunicorn(s3_env, workers=2, log_dir=tmp_path) as web:
        client = processes.BoardClient(web.url)
        worker = processes.start_celery_worker(s3_env, log_dir=tmp_path)
        try:
            thread = client.new_thread("test", "落ちるワーカー", "1", mail="sage")
            eventually(lambda: posts_in_store(store_path, thread) == [1], 20, "the thread applied")
            for n in range(2, 6):
                client.reply("test", thread, f"{n}", FROM="名無し#tripkey" if n == 3 else "")
            eventually(lambda: posts_in_store(store_path, thread) == [1, 2, 3, 4, 5], 20, "posts 1-5 applied")
            with processes.store_write_locked(store_path):
                client.reply("test", thread, "6: its fan-out dies with the worker")
                worker.wait_for_output("Task utakata.fanout.apply", count=7)
                time.sleep(0.3)
                worker.kill()  # SIGKILL, the whole worker, mid-task: nobody acks or rejects it
        finally:
            worker.kill()
        assert posts_in_store(store_path, thread) == [1, 2, 3, 4, 5]

        redis.Redis.from_url(fresh_redis).flushall()  # Redis flushed: the queue and the number hints are gone
        assert client.reply("test", thread, "7: numbered from the log after the flush") == 7

        with processes.celery_worker(s3_env, log_dir=tmp_path) as replacement:
            eventually(lambda: 7 in posts_in_store(store_path, thread), 20, "post 7 applied by the new worker")
            assert 6 not in posts_in_store(store_path, thread), "the lost fan-out is still lost"
            subprocess.run(
                [str(processes.BIN / "celery"), "-A", "boards_site", "call", "utakata.lifecycle.reconcile"],
                env=s3_env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            replacement.wait_for_output("applied that fan-out had missed", timeout=30)
            eventually(lambda: posts_in_store(store_path, thread) == list(range(1, 8)), 20, "reconcile applied 6")

        before = pages(web.url, "test")
        assert before[f"/test/dat/{thread}.dat"][0] == 200
        processes.manage(s3_env, "rehydrate", "--replace", "--no-progress")
        after = pages(web.url, "test")
    assert after == before, page_diff(before, after)
