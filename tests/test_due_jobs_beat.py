"""A real beat and worker on a real Redis: a freshly started beat starts an overdue snapshot at once.

Beat's schedule file is new (as in a replaced container); the log's LATEST is
days old and an hourly segment waits that it does not hold. The snapshot
must follow within seconds, not an interval after beat started.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from board import log as log_module
from board.lib.backends import parse_url
from board.lifecycle import keys as k
from board.lifecycle.rollup import rollup
from board.lifecycle.snapshot import make_snapshot
from board.log import SCHEMES, get_log
from board.store import get_store
from tests import processes, services
from tests.lifecycle_helpers import board_at, post_at, thread_at
from tests.processes import BIN, eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def file_log(settings, tmp_path):
    settings.UTAKATA_LOG = parse_url(f"file://{tmp_path / 'log'}", SCHEMES, "UTAKATA_LOG_URL")
    log_module.handler.reset()
    yield tmp_path / "log"
    log_module.handler.reset()


def latest_seq() -> int | None:
    try:
        return json.loads(get_log().read(k.LATEST))["seq"]
    except Exception:
        return None


def test_a_freshly_started_beat_with_an_old_latest_snapshots_at_once(file_log, tmp_path, fresh_redis):
    start = datetime.now(UTC)
    board_at("test", start)
    thread = thread_at("test", start)
    rollup(get_log(), get_store(), now=start + timedelta(hours=2))
    make_snapshot(get_log(), now=start - timedelta(days=3))  # LATEST made three days ago
    post_at("test", thread.thread, 2, start)
    rollup(get_log(), get_store(), now=start + timedelta(hours=2))  # a second part of the hour waits
    assert latest_seq() == 1

    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        REDIS_URL=fresh_redis,
        UTAKATA_LOG_URL=f"file://{file_log}",
        UTAKATA_STORE_URL=f"sqlite://{tmp_path / 'store.sqlite3'}",
    )
    beat_argv = [str(BIN / "celery"), "-A", "boards_site", "beat", "--loglevel", "INFO"]
    beat_argv += ["--schedule", str(tmp_path / "new-beat-schedule")]
    with processes.celery_worker(env, log_dir=tmp_path) as worker:
        beat = processes.Service("beat", beat_argv, env, tmp_path)
        try:
            eventually(lambda: latest_seq() == 2, 30, "a second snapshot")
        finally:
            beat.stop()
    assert "starting snapshot: LATEST is 72." in worker.output()
