"""/healthz and /readyz (board/ops/probes.py): fit for compose and Kubernetes, and saying nothing private."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from board import log as log_module
from board import store as store_module
from board.lifecycle import state as logstate
from board.log import LogUnavailable, get_log
from board.ops import metrics
from tests import services

CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def looked():
    """The lifecycle tick looked at the log just now."""
    logstate.record(logstate.look(get_log()))


@pytest.fixture
def log_down(settings):
    """The log on an S3 endpoint where nothing listens (one attempt, so the probe fails fast)."""
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "secret-bucket-name/prefix",
        "OPTIONS": services.log_options(CLOSED_PORT, max_attempts="1", connect_timeout="1"),
    }
    log_module.handler.reset()
    yield
    log_module.handler.reset()


@pytest.fixture
def store_down(settings, tmp_path):
    """A store that cannot be read: an SQLite file where a folder stands."""
    (tmp_path / "store").mkdir()
    settings.UTAKATA_STORE = {"BACKEND": "board.store.sqlite.SQLiteStore", "LOCATION": str(tmp_path / "store")}
    store_module.handler.reset()
    yield
    store_module.handler.reset()


@pytest.fixture(autouse=True)
def no_commits_remembered(monkeypatch):
    monkeypatch.setattr(metrics, "_last_commits", {})


def ready(client, **headers) -> tuple[int, dict]:
    response = client.get("/readyz", **headers)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_says_the_process_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


def test_readyz_is_ready_when_every_part_answers_and_no_job_is_late(client, looked):
    status, body = ready(client)
    assert (status, body["status"]) == (200, "ready")
    assert {name: check["state"] for name, check in body["checks"].items()} == {
        "store": "ok",
        "log": "ok",
        "cache": "ok",
        "jobs": "ok",
    }
    assert all(check["latency_ms"] >= 0 for check in body["checks"].values())


def test_readyz_fails_only_when_the_store_cannot_be_read(client, looked, store_down):
    status, body = ready(client)
    assert (status, body["status"], body["checks"]["store"]["state"]) == (503, "unready", "failing")


def test_a_log_that_cannot_be_reached_leaves_the_node_ready_but_degraded(client, looked, log_down):
    status, body = ready(client)
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["log"] | {"latency_ms": 0} == {"state": "failing", "error": "LogUnavailable", "latency_ms": 0}


def test_a_redis_outage_leaves_the_node_ready_but_degraded(client, looked, cache_down):
    status, body = ready(client)
    assert (status, body["status"], body["checks"]["cache"]["state"]) == (200, "degraded", "failing")


def test_a_failed_commit_here_marks_the_log_failing_until_one_succeeds(client, looked):
    metrics.commit_failed(LogUnavailable("endpoint down"))
    assert ready(client)[1]["checks"]["log"]["state"] == "failing"
    metrics.commit_done(0.01)
    assert ready(client)[1]["checks"]["log"]["state"] == "ok"


def test_a_late_rollup_is_named_while_the_node_stays_ready(client):
    now = datetime.now(UTC)
    logstate.record(logstate.LogState(looked_at=now, backlog=4, oldest_pending=now - timedelta(hours=3)))
    status, body = ready(client)
    assert (status, body["status"], body["checks"]["jobs"]["detail"]) == (200, "degraded", "rollup late")
    assert body["checks"]["jobs"]["rollup"] == {
        "late": True,
        "detail": "4 event(s) wait in incoming/, the oldest for 10800s",
    }


def test_a_rollup_whose_hour_ended_less_than_the_threshold_ago_is_not_late(client):
    now = datetime.now(UTC)
    oldest = now.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=1)  # its hour ended this hour
    logstate.record(logstate.LogState(looked_at=now, backlog=4, oldest_pending=oldest))
    assert ready(client)[1]["checks"]["jobs"]["state"] == "ok"


def test_a_snapshot_waited_for_past_the_interval_and_threshold_is_late(client, settings):
    now = datetime.now(UTC)
    waited = timedelta(seconds=settings.SNAPSHOT_LATE_SECONDS + 3600)
    logstate.record(logstate.LogState(looked_at=now, unsnapshotted=30, oldest_unsnapshotted=now - waited))
    assert ready(client)[1]["checks"]["jobs"]["detail"] == "snapshot late"


def test_a_tick_that_stopped_looking_is_late(client):
    logstate.record(logstate.LogState(looked_at=datetime.now(UTC) - timedelta(minutes=30)))
    assert ready(client)[1]["checks"]["jobs"]["detail"] == "tick late"


def test_readyz_says_when_no_tick_looked_at_the_log(client):
    status, body = ready(client)
    assert (status, body["status"], body["checks"]["jobs"]["state"]) == (200, "degraded", "late")
    assert body["checks"]["jobs"]["detail"] == "tick late"


def test_readyz_names_no_endpoint_bucket_or_message(client, looked, log_down):
    text = client.get("/readyz").content.decode()
    for private in ("127.0.0.1", ":9", "secret-bucket-name", "prefix", "endpoint"):
        assert private not in text


def test_probes_answer_whatever_the_host_a_kubelet_sends(client, looked, settings):
    settings.ALLOWED_HOSTS = ["board.example"]
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.fixture
def cache_silent(settings):
    """Redis that takes the connection and never answers (a host that swallows packets)."""
    import socket
    import threading

    from django.core.cache import caches

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    location = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": location}}
    caches._connections = threading.local()
    yield
    silent.close()
    caches._connections = threading.local()


def test_a_part_that_never_answers_is_failing_within_the_probes_own_time(client, settings, cache_silent):
    settings.PROBE_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()
    status, body = ready(client)
    assert time.monotonic() - started < 2
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["cache"] == {"state": "failing", "error": "Timeout", "latency_ms": 500.0}
