"""The filesystem broker (board/lib/filebroker.py): a polling worker never takes a message half written.

kombu's own transport created a message's file before writing it, and a worker
that listed the folder in between read it empty and died ("Unrecoverable
error: JSONDecodeError"), taking the message with it. Producers here are other
processes, as the web's are to the worker.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty

from kombu import Connection

from board.lib import filebroker
from board.lib.filebroker import Transport
from tests import services

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 400
# Large enough that writing one takes several system calls' time.
BODY = "x" * 200_000


def options(folder: Path) -> dict:
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }


def produce(folder: str, start: int, count: int) -> None:
    with Connection("filesystem://", transport=Transport, transport_options=options(Path(folder))) as conn:
        channel = conn.channel()
        for n in range(start, start + count):
            channel._put("fanout", {"n": n, "body": BODY})


def consume(folder: Path, done: Path, seconds: float = 60.0, ready: Path | None = None) -> list[int]:
    """Take messages as fast as the worker polls until the queue is empty and ``done`` exists; a torn one raises.

    ``ready`` is touched once the worker polls.
    """
    taken: list[int] = []
    deadline = time.monotonic() + seconds
    with Connection("filesystem://", transport=Transport, transport_options=options(folder)) as conn:
        channel = conn.channel()
        if ready is not None:
            ready.touch()
        while time.monotonic() < deadline:
            try:
                message = channel._get("fanout")
            except Empty:
                if done.exists():
                    break
                continue
            assert message["body"] == BODY
            taken.append(message["n"])
    return taken


def producers(folder: Path, count: int) -> list[multiprocessing.Process]:
    share = MESSAGES // count
    started = [
        multiprocessing.get_context("spawn").Process(target=produce, args=(str(folder), i * share, share))
        for i in range(count)
    ]
    for p in started:
        p.start()
    return started


def finish(started: list[multiprocessing.Process], done: Path) -> None:
    for p in started:
        p.join(60)
    done.touch()


def test_a_worker_polling_while_others_put_takes_every_message_whole_and_once(tmp_path):
    started = producers(tmp_path / "queue", 2)
    threading.Thread(target=finish, args=(started, tmp_path / "done")).start()
    taken = consume(tmp_path / "queue", tmp_path / "done")
    assert sorted(taken) == list(range(MESSAGES))


def test_two_workers_polling_one_queue_take_each_message_once(tmp_path):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        # The other worker polls before any message is put: on a busy machine a spawned
        # process can take longer to start than this one takes to drain the queue alone.
        other = pool.apply_async(consume, (tmp_path / "queue", tmp_path / "done", 60.0, tmp_path / "ready"))
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        started = producers(tmp_path / "queue", 2)
        threading.Thread(target=finish, args=(started, tmp_path / "done")).start()
        mine = consume(tmp_path / "queue", tmp_path / "done")
        theirs = other.get(60)
    assert mine and theirs
    assert sorted(mine + theirs) == list(range(MESSAGES))


def test_a_message_taken_leaves_nothing_behind(tmp_path):
    produce(str(tmp_path / "queue"), 0, 3)
    (tmp_path / "done").touch()
    assert sorted(consume(tmp_path / "queue", tmp_path / "done")) == [0, 1, 2]
    assert os.listdir(tmp_path / "queue") == ["processed"] and os.listdir(tmp_path / "queue" / "processed") == []


def test_a_worker_lists_the_folder_once_for_a_backlog_not_once_a_message(tmp_path, monkeypatch):
    produce(str(tmp_path / "queue"), 0, 50)
    (tmp_path / "done").touch()
    listings = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listings.append(path) or listdir(path))
    assert sorted(consume(tmp_path / "queue", tmp_path / "done")) == list(range(50))
    assert len(listings) == 2  # the backlog, then the empty folder


def test_a_partial_message_a_dead_producer_left_is_removed_once_it_is_old(tmp_path):
    folder = tmp_path / "queue"
    produce(str(folder), 0, 1)
    dead, writing = folder / "1_dead.fanout.msg.partial", folder / "2_writing.fanout.msg.partial"
    dead.write_bytes(b'{"n": ')
    writing.write_bytes(b'{"n": ')
    an_hour_ago = time.time() - filebroker.PARTIAL_MAX_AGE - 1
    os.utime(dead, (an_hour_ago, an_hour_ago))
    (tmp_path / "done").touch()
    assert consume(folder, tmp_path / "done") == [0]
    assert sorted(os.listdir(folder)) == [writing.name, "processed"]


def test_a_connection_says_nothing_of_a_missing_hostname(tmp_path, caplog):
    with Connection("filesystem://", transport=Transport, transport_options=options(tmp_path)) as conn:
        conn.channel()
        assert conn.info()["hostname"] is None
    assert "hostname" not in caplog.text


def test_the_web_and_the_worker_use_it_for_the_local_queue(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from boards_site.celery import app\n"
        "for conn in (app.connection_for_write(), app.connection_for_read()):\n"
        "    print(type(conn.transport).__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=services.project_env(UTAKATA_DATA_DIR=str(tmp_path), REDIS_URL="", CELERY_BROKER_URL="filesystem://"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["board.lib.filebroker", "board.lib.filebroker"]
