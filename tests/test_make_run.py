"""`make run` (scripts/run-local) on a fresh data directory: the whole board answers, its secret is private."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time

import pytest
import requests

from tests import services
from tests.processes import ROOT, eventually

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running_board(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("make-run")
    port = services.free_port()
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path / "var"), PORT=str(port))
    env.pop("UTAKATA_DEBUG")
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run-local")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        said = f"running at http://127.0.0.1:{port}/"
        eventually(lambda: said in (tmp_path / "run.log").read_text(errors="replace"), 120, "make run's URL")
        yield f"http://127.0.0.1:{port}", tmp_path / "var"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def first_answer(url: str) -> requests.Response:
    """GET url once the board takes connections."""
    deadline = time.monotonic() + 30
    while True:
        try:
            # The first answer waits for a worker's start (Django set up, the log probed): on a
            # loaded machine that takes seconds, and these tests are about what, not how fast.
            return requests.get(url, timeout=60)
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_make_run_serves_the_board_at_the_url_it_prints(running_board):
    url, _ = running_board
    assert first_answer(url + "/bbsmenu.html").status_code == 200


def test_make_run_seeds_a_demo_board_with_its_local_rules(running_board):
    url, _ = running_board
    rules = first_answer(url + "/demo/head.txt")
    assert rules.status_code == 200 and "雑談板です。<br>" in rules.content.decode("cp932")


def test_make_run_keeps_its_secret_key_readable_by_its_user_only(running_board):
    _, data = running_board
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600


def test_make_run_closes_a_browsers_idle_connection_after_a_few_seconds(running_board):
    url, _ = running_board
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        while conn.recv(65536):  # the rest of the answer, then the server's close
            pass
    # Browsers reach gunicorn directly here: no proxy closes idle connections for it.
    assert time.monotonic() - started < 15
