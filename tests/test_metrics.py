"""Prometheus metrics (board/ops/metrics.py): scraped from a real gunicorn and a real Celery worker.

Each serves its processes' metrics (multiprocess mode, one folder per
service) on a port of its own; the tests post through the web and read what
the scrapes say.
"""

from __future__ import annotations

import re
import time

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import REGISTRY

from board.boards import UNLIMITED
from board.ops.multiproc import prepare
from board.posting import refusals as r
from tests import processes, services
from tests.helpers import new_thread, refused
from tests.lifecycle_helpers import history
from tests.processes import eventually


def scrape(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def sample(text: str, name: str, labels: str = "") -> float | None:
    """The value of one sample in a scrape (labels as Prometheus prints them, e.g. 'kind="thread"')."""
    found = re.search(
        rf"^{re.escape(name)}{{{re.escape(labels)}}} (\S+)$" if labels else rf"^{name} (\S+)$", text, re.M
    )
    return float(found.group(1)) if found else None


def test_every_refusal_message_is_counted_under_its_rules_name():
    assert r.reason(r.COOLDOWN.format(wait=12)) == "cooldown"
    assert r.reason(r.TOO_LONG.format(field="本文", size=3000, limit=2048)) == "too_long"
    assert r.reason(r.NO_BODY) == "no_body"
    assert r.reason("a message no rule gives") == "other"


def test_a_refused_post_is_counted_by_reason(board):
    before = REGISTRY.get_sample_value("utakata_posts_refused_total", {"reason": "no_body"}) or 0
    refused("test", None, subject="件名", body="")
    assert REGISTRY.get_sample_value("utakata_posts_refused_total", {"reason": "no_body"}) == before + 1


def test_an_accepted_post_and_its_commit_are_counted(board):
    before = REGISTRY.get_sample_value("utakata_posts_accepted_total", {"kind": "thread"}) or 0
    commits = REGISTRY.get_sample_value("utakata_commit_seconds_count") or 0
    new_thread("test")
    assert REGISTRY.get_sample_value("utakata_posts_accepted_total", {"kind": "thread"}) == before + 1
    assert REGISTRY.get_sample_value("utakata_commit_seconds_count") == commits + 1


def test_a_rollup_publishes_its_duration_size_and_last_success(board):
    from board.tasks.lifecycle import rollup_closed_hours

    history(hours=1)
    before = time.time()
    rollup_closed_hours()
    assert REGISTRY.get_sample_value("utakata_job_last_success_timestamp_seconds", {"job": "rollup"}) >= before
    assert REGISTRY.get_sample_value("utakata_job_duration_seconds", {"job": "rollup"}) > 0
    assert REGISTRY.get_sample_value("utakata_job_output_bytes", {"job": "rollup"}) > 0


def test_a_metrics_address_that_is_not_host_and_port_stops_the_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="UTAKATA_METRICS_ADDR"):
        prepare("localhost", tmp_path)


@pytest.mark.slow
def test_the_web_and_the_worker_serve_their_processes_metrics_after_a_real_post(tmp_path, fresh_redis):
    web_port, worker_port = services.free_port(), services.free_port()
    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        REDIS_URL=fresh_redis,
        UTAKATA_LOG_URL=f"file://{tmp_path / 'log'}",
        UTAKATA_STORE_URL=f"sqlite://{tmp_path / 'store.sqlite3'}",
    )
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    web_env = {
        **env,
        "UTAKATA_METRICS_ADDR": f"127.0.0.1:{web_port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m-web"),
    }
    worker_env = {
        **env,
        "UTAKATA_METRICS_ADDR": f"127.0.0.1:{worker_port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m-worker"),
    }
    with (
        processes.gunicorn(web_env, workers=2, log_dir=tmp_path) as web,
        processes.celery_worker(worker_env, concurrency=2, log_dir=tmp_path),
    ):
        client = processes.BoardClient(web.url)
        client.new_thread("test", "計測", "本文")
        client.open_form("test")
        client.post("test", subject="件名", MESSAGE="")  # refused: no body
        processes.manage(env, "shell", "-c", "from board.tasks.lifecycle import run_due; run_due.delay()")

        def counted() -> bool:
            return (sample(scrape(worker_port), "utakata_fanout_lag_seconds_count") or 0) >= 1

        eventually(counted, 15, "the fan-out's lag in the worker's metrics")
        eventually(lambda: sample(scrape(worker_port), "utakata_incoming_backlog_events") == 2, 15, "the backlog")
        text = scrape(web_port)
    assert sample(text, "utakata_posts_accepted_total", 'kind="thread"') == 1.0
    assert sample(text, "utakata_posts_refused_total", 'reason="no_body"') == 1.0
    assert sample(text, "utakata_commit_seconds_count") == 1.0


def test_a_page_that_fails_on_the_store_is_counted_by_kind(board, settings, tmp_path):
    from django.test import Client

    from board import store as store_module

    (tmp_path / "store").mkdir()
    settings.UTAKATA_STORE = {"BACKEND": "board.store.sqlite.SQLiteStore", "LOCATION": str(tmp_path / "store")}
    store_module.handler.reset()
    labels = {"part": "store", "kind": "StoreUnavailable"}
    before = REGISTRY.get_sample_value("utakata_errors_total", labels) or 0
    response = Client(raise_request_exception=False).get("/test/")
    store_module.handler.reset()
    assert response.status_code == 500
    assert REGISTRY.get_sample_value("utakata_errors_total", labels) == before + 1
