"""Kept-alive connections: gunicorn keeps an idle one open longer than the proxy in front of it does.

A server that closes an idle connection races the next request its client
sends on it; that request fails unanswered, and a POST is not retried (a burst
of replies lost some this way to gunicorn's default of 2 s). So the proxy must
always be the side that closes.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from pathlib import Path

from tests import processes, services

REPO = Path(__file__).resolve().parent.parent


def gunicorn_keepalive(tmp_path: Path) -> int:
    """The keepalive deploy/gunicorn.conf.py resolves to, as gunicorn itself prints it."""
    done = subprocess.run(
        [
            str(processes.BIN / "gunicorn"),
            "--config",
            str(processes.GUNICORN_CONFIG),
            "--print-config",
            "boards_site.wsgi",
        ],
        cwd=REPO,
        env=services.project_env(UTAKATA_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(re.search(r"^keepalive\s*=\s*(\d+)$", done.stdout, re.M).group(1))


def nginx_upstream_keepalive_timeout() -> int:
    upstream = re.search(r"upstream utakata_web \{(.*?)\}", (REPO / "deploy" / "nginx.conf").read_text(), re.S)
    return int(re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.M).group(1))


def test_gunicorn_keeps_an_idle_connection_longer_than_nginx_keeps_it_to_gunicorn(tmp_path):
    assert gunicorn_keepalive(tmp_path) > nginx_upstream_keepalive_timeout()


def test_a_request_on_a_connection_idle_for_some_seconds_is_answered(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=1, ready_path="/healthz", log_dir=tmp_path) as web:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() and conn.sock is not None
        time.sleep(3)  # longer than gunicorn's own default keepalive
        conn.request("GET", "/healthz")  # on the same socket: http.client reopens only a closed one
        assert conn.getresponse().status == 200
        conn.close()
