"""Fixtures: the real parts the tests run against."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from board import log as log_module
from board import store as store_module
from board.boards import UNLIMITED
from tests import riak_nodes, services

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis server private to this test session."""
    with services.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint (moto in server mode) private to this test session."""
    with services.s3_server() as url:
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh, empty bucket on the S3 endpoint."""
    name = f"utakata-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def fresh_backends(settings):
    """Each test starts with empty in-memory backends and forgets cached instances."""
    from board.log.memory import MemoryLog
    from board.store.memory import MemoryStore

    settings.UTAKATA_LOG = {"BACKEND": "board.log.memory.MemoryLog", "LOCATION": uuid.uuid4().hex}
    settings.UTAKATA_STORE = {"BACKEND": "board.store.memory.MemoryStore", "LOCATION": uuid.uuid4().hex}
    from django.core.cache import cache

    log_module.handler.reset()
    store_module.handler.reset()
    cache.clear()
    yield
    log_module.handler.reset()
    store_module.handler.reset()
    MemoryLog.forget_all()
    MemoryStore.forget_all()


@pytest.fixture
def board():
    """A board /test/ with the cooldown off, so tests post freely."""
    from tests.helpers import make_board

    return make_board("test", "テスト板", **UNLIMITED)


@pytest.fixture
def cache_down(settings):
    """The cache (Redis) unreachable: nothing listens where it is configured."""
    import threading

    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    caches._settings = caches.settings = settings.CACHES
    caches._connections = threading.local()
    yield
    caches._connections = threading.local()


@pytest.fixture
def fresh_redis(redis_url):
    """The session's Redis, emptied: no cache keys, locks or queued tasks left by an earlier test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    return redis_url


# --- Riak: one cluster per session, started in the background once the session knows it needs one ---

_riak: dict = {"background": None, "skipped": ""}


def pytest_collection_modifyitems(session, config, items):
    if not any("riak_cluster" in getattr(item, "fixturenames", ()) for item in items):
        return
    if os.environ.get("UTAKATA_TEST_RIAK_URL"):
        return
    home = riak_nodes.riak_home()
    if home is None:
        _riak["skipped"] = (
            "Riak suite skipped: no Riak release here (set UTAKATA_RIAK_HOME to a folder with riakctl and the "
            "release tarball, or UTAKATA_TEST_RIAK_URL to a running cluster; see README, Tests)"
        )
        return
    _riak["background"] = riak_nodes.Background(home)


@pytest.fixture(scope="session")
def riak_cluster():
    """The session's Riak cluster (4 nodes on loopback), or a running one named by UTAKATA_TEST_RIAK_URL."""
    external = os.environ.get("UTAKATA_TEST_RIAK_URL")
    if external:
        yield riak_nodes.External(external)
        return
    background = _riak["background"]
    if background is None:
        if riak_nodes.required():
            pytest.fail(f"{_riak['skipped']} -- and a Riak is required here (CI=true or UTAKATA_RIAK_HOME set)")
        pytest.skip(_riak["skipped"])
    yield background.wait()


def pytest_sessionfinish(session, exitstatus):
    background = _riak["background"]
    if background is not None:
        background.thread.join()
        background.cluster.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _riak["skipped"]:
        terminalreporter.write_line(_riak["skipped"], yellow=True)
