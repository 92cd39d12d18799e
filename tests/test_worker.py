"""The fan-out wiring with a real Celery worker process and the real Redis broker.

Posts go in through gunicorn (so the web's own producer settings are used);
the test reads the SQLite store file itself, and never opens a thread page,
so only a worker can have put a post there. To catch a worker mid-task the
test holds SQLite's write lock: the task blocks in its first write until the
worker is killed.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from board.boards import UNLIMITED
from board.readmodel import queries
from board.store.sqlite import SQLiteStore
from tests import processes, services
from tests.processes import eventually

pytestmark = pytest.mark.slow

VISIBILITY_TIMEOUT = 3
RECEIVED_RE = re.compile(r"Task utakata\.fanout\.apply\[([0-9a-f-]+)\] received")


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "store.sqlite3"


@pytest.fixture
def env(tmp_path, store_path, fresh_redis):
    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        REDIS_URL=fresh_redis,
        UTAKATA_LOG_URL=f"file://{tmp_path / 'log'}",
        # Long enough for the task to sit blocked on the test's lock until it is killed.
        UTAKATA_STORE_URL=f"sqlite://{store_path}?timeout=60",
        UTAKATA_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
    )
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    return env


@pytest.fixture
def web(env, tmp_path):
    with processes.gunicorn(env, workers=2, log_dir=tmp_path) as server:
        yield server


@pytest.fixture
def store(store_path):
    store = SQLiteStore(str(store_path))
    yield store
    store.close()


def numbers_in_store(store: SQLiteStore, thread: str) -> list[int]:
    return [p["number"] for p in queries.posts(store, "test", thread, list(range(1, 11)))]


def received(worker: processes.Service) -> list[str]:
    return RECEIVED_RE.findall(worker.output())


def thread_applied(web, store) -> str:
    """A thread started over HTTP and applied by the worker."""
    key = processes.BoardClient(web.url).new_thread("test", "ワーカー", "1")
    eventually(lambda: numbers_in_store(store, key) == [1], 10, "the thread in the store")
    return key


def test_a_post_made_on_the_web_is_applied_to_the_store_by_the_worker(web, env, store, tmp_path):
    with processes.celery_worker(env, log_dir=tmp_path):
        client = processes.BoardClient(web.url)
        key = client.new_thread("test", "ワーカー", "1")
        client.reply("test", key, "2")
        eventually(lambda: numbers_in_store(store, key) == [1, 2], 5, "posts 1 and 2 in the store")


def test_a_task_whose_pool_process_is_sigkilled_is_redelivered_and_applied_once(web, env, store, store_path, tmp_path):
    with processes.celery_worker(env, log_dir=tmp_path) as worker:
        key = thread_applied(web, store)
        before = len(received(worker))  # createboard's and the thread's
        poster = processes.BoardClient(web.url)
        poster.open_form("test", key)  # the page read before the lock: this test is about the task
        with processes.store_write_locked(store_path):
            poster.reply("test", key, "2")
            eventually(lambda: len(received(worker)) > before, 5, "the reply's task at the worker")
            time.sleep(0.3)
            assert numbers_in_store(store, key) == [1], "the task must still be blocked"
            [child] = worker.children()
            os.kill(child, signal.SIGKILL)
            worker.wait_for_output("exited with 'signal 9 (SIGKILL)'")
        eventually(lambda: numbers_in_store(store, key) == [1, 2], 10, "the reply in the store")
        task = received(worker)[before]
        assert received(worker).count(task) == 2, "reject_on_worker_lost put the task back"
        assert queries.thread(store, "test", key).count == 2


def test_a_task_of_a_worker_sigkilled_whole_is_redelivered_after_the_visibility_timeout(
    web, env, store, store_path, tmp_path
):
    worker = processes.start_celery_worker(env, log_dir=tmp_path)
    try:
        key = thread_applied(web, store)
        before = len(received(worker))  # createboard's and the thread's
        poster = processes.BoardClient(web.url)
        poster.open_form("test", key)  # the page read before the lock: this test is about the task
        with processes.store_write_locked(store_path):
            poster.reply("test", key, "2")
            eventually(lambda: len(received(worker)) > before, 5, "the reply's task at the worker")
            delivered = time.monotonic()
            task = received(worker)[-1]
            worker.kill()  # the whole group: nobody is left to reject or ack the message
        assert numbers_in_store(store, key) == [1]
    finally:
        worker.kill()
    # A new worker restores unacknowledged messages older than the visibility
    # timeout when it starts (and then only every unacked_restore_interval x
    # throttle seconds), so it is started once the timeout has passed.
    time.sleep(max(0.0, delivered + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    with processes.celery_worker(env, log_dir=tmp_path) as replacement:
        eventually(lambda: numbers_in_store(store, key) == [1, 2], 10, "the reply in the store")
        assert received(replacement) == [task]
        assert queries.thread(store, "test", key).count == 2


def test_posts_reach_the_store_through_the_fanout_worker_while_jobs_wait_on_their_own_queue(web, env, store, tmp_path):
    processes.manage(env, "shell", "-c", "from board.tasks.lifecycle import run_due; run_due.delay()")
    with processes.celery_worker(env, log_dir=tmp_path, queues="fanout") as worker:
        thread_applied(web, store)
        assert "Task utakata.fanout.apply[" in worker.output()
        assert "Task utakata.lifecycle.due[" not in worker.output()
