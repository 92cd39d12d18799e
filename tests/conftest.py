"""Fixtures: the real parts the tests run against."""

from __future__ import annotations

import os
import uuid

import pytest

from board import log as log_module
from board import store as store_module
from board.boards import UNLIMITED
from tests import rgw_server, riak_nodes, services

# What boto3 finds in this process: the tests' S3 credentials (see services.s3_credentials).
os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = services.s3_credentials()


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis server private to this test session."""
    with services.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint: moto in server mode private to this session, or UTAKATA_TEST_S3_ENDPOINT's."""
    with services.s3_endpoint() as url:
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh, empty bucket on the S3 endpoint."""
    return services.new_bucket(s3_endpoint)


@pytest.fixture(params=[services.s3_name(), "rgw"])
def any_s3(request):
    """Each S3 implementation the session has, in turn: the main endpoint (moto), then the test RGW."""
    if request.param == "rgw":
        return request.getfixturevalue("rgw_endpoint")
    return request.getfixturevalue("s3_endpoint")


@pytest.fixture
def any_s3_bucket(any_s3):
    """A fresh, empty bucket on any_s3."""
    return services.new_bucket(any_s3)


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

    settings.CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
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


# --- Riak and RGW: one of each per session, started in the background once the session knows it needs one ---

_riak: dict = {"background": None, "skipped": ""}
_rgw: dict = {"background": None, "skipped": ""}


@pytest.hookimpl(trylast=True)  # after -k and -m deselected what will not run
def pytest_collection_modifyitems(session, config, items):
    used = set()
    for item in items:
        used.update(getattr(item, "fixturenames", ()))
    if "riak_cluster" in used:
        _start_riak()
    on_rgw = [item for item in items if _uses_rgw(item)]
    if on_rgw:
        _start_rgw()
        # Last, so the other tests run while RGW starts (about 25 s) instead of waiting for it.
        items[:] = [item for item in items if not _uses_rgw(item)] + on_rgw


def _uses_rgw(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "rgw_endpoint" in getattr(item, "fixturenames", ()) or (
        callspec is not None and callspec.params.get("any_s3") == "rgw"
    )


def _start_riak() -> None:
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


def _start_rgw() -> None:
    if os.environ.get("UTAKATA_TEST_RGW_ENDPOINT"):
        return
    why = rgw_server.unavailable()
    if why:
        _rgw["skipped"] = f"Ceph RGW tests skipped: {why}"
        return
    _rgw["background"] = rgw_server.Background(rgw_server.rgw_home())


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


@pytest.fixture(scope="session")
def rgw_endpoint():
    """The session's Ceph RGW (started from ../shared/rgw/setup.sh), or UTAKATA_TEST_RGW_ENDPOINT's."""
    external = os.environ.get("UTAKATA_TEST_RGW_ENDPOINT")
    if external:
        return external
    background = _rgw["background"]
    if background is None:
        if os.environ.get("UTAKATA_RGW_HOME"):
            pytest.fail(f"{_rgw['skipped']} -- and UTAKATA_RGW_HOME asks for it")
        pytest.skip(_rgw["skipped"])
    return background.wait()


def pytest_sessionfinish(session, exitstatus):
    background = _riak["background"]
    if background is not None:
        background.thread.join()
        background.cluster.stop()
    if _rgw["background"] is not None:
        _rgw["background"].stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for skipped in (_riak["skipped"], _rgw["skipped"]):
        if skipped:
            terminalreporter.write_line(skipped, yellow=True)
