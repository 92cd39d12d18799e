"""Real services for the tests: use one that is reachable, or start our own.

A developer machine may already run Redis; a fresh one may not. Either way the
tests get a real server, never a fake, and a clear message when neither works.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A private redis-server on a loopback port, without persistence: stopped and started again, it is empty."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError(
                "redis-server is not installed: run `make test` (it installs it) or `apt-get install redis-server`"
            )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="utakata-redis-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", self.workdir]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yield the URL of a private Redis server started for the test session."""
    with running_redis() as server:
        yield server.url


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A private Redis server (see RedisServer) until the block ends."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Yield the endpoint URL of a moto S3 server (a real HTTP endpoint) on a free port.

    Started through tests/moto_server.py: moto in gunicorn, connections kept open and without Nagle's algorithm.
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("moto_server.py")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


# --- which S3 the tests use ---------------------------------------------------------------
#
# UTAKATA_TEST_S3_ENDPOINT points the S3 tests (the log's contract, tiering, snapshots,
# the processes on S3, bench.posting) at a running S3 endpoint instead of a moto of their
# own: AWS, MinIO, a Ceph RGW. Each test makes its own bucket there (utakata-<random>)
# and leaves it behind. Credentials: UTAKATA_TEST_S3_ACCESS_KEY and
# UTAKATA_TEST_S3_SECRET_KEY, else the usual AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# else "testing" (what moto and the test RGW accept).

S3_ENDPOINT_VARIABLE = "UTAKATA_TEST_S3_ENDPOINT"


def external_s3() -> str:
    """The endpoint UTAKATA_TEST_S3_ENDPOINT names, or "" (the tests start moto)."""
    return os.environ.get(S3_ENDPOINT_VARIABLE, "").strip()


def s3_name() -> str:
    """A short name of the session's main S3 endpoint, for test ids: moto, or external."""
    return "external" if external_s3() else "moto"


def s3_credentials() -> tuple[str, str]:
    access = os.environ.get("UTAKATA_TEST_S3_ACCESS_KEY") or os.environ.get("AWS_ACCESS_KEY_ID") or "testing"
    secret = os.environ.get("UTAKATA_TEST_S3_SECRET_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing"
    return access, secret


@contextlib.contextmanager
def s3_endpoint() -> Iterator[str]:
    """The S3 endpoint the tests use: UTAKATA_TEST_S3_ENDPOINT's, or a moto server started here."""
    external = external_s3()
    if external:
        yield external
        return
    with s3_server() as url:
        yield url


def s3_client(endpoint: str):
    """A plain boto3 client on endpoint with the tests' credentials (path-style, as the log uses)."""
    import boto3
    from botocore.config import Config

    access, secret = s3_credentials()
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("UTAKATA_TEST_S3_REGION", "us-east-1"),
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )


def log_options(endpoint: str, **more: str) -> dict[str, str]:
    """S3Log options for endpoint (the tests' region), plus more."""
    return {"endpoint_url": endpoint, "region_name": os.environ.get("UTAKATA_TEST_S3_REGION", "us-east-1"), **more}


def new_bucket(endpoint: str, stem: str = "utakata") -> str:
    """A new, empty bucket on endpoint."""
    import uuid

    name = f"{stem}-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process (web, worker) of the project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UTAKATA_", "DJANGO_", "CELERY_"))}
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "boards_site.settings",
            "UTAKATA_DEBUG": "1",
            "AWS_ACCESS_KEY_ID": s3_credentials()[0],
            "AWS_SECRET_ACCESS_KEY": s3_credentials()[1],
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
    )
    if os.environ.get("UTAKATA_TEST_S3_REGION"):
        env["UTAKATA_S3_REGION"] = os.environ["UTAKATA_TEST_S3_REGION"]
    env.update(overrides)
    return env


@contextlib.contextmanager
def header_dropping_proxy(upstream: str, drop: tuple[str, ...]) -> Iterator[str]:
    """Yield the URL of an HTTP proxy to upstream that removes the named request headers.

    What a load balancer or an S3 gateway that does not know a header does to
    it: the request goes through, the header does not. (moto checks no
    signature, so the request stays valid.)
    """
    from tests.fault_proxy import FaultProxy

    with FaultProxy(upstream, drop) as proxy:
        yield proxy.url
