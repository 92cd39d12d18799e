"""A web or worker process does not start on an S3 endpoint that ignores conditional writes.

The endpoint here is moto behind a proxy that drops ``If-None-Match`` (what a
gateway that does not know the header does); the processes are the real
gunicorn and Celery worker with the production configuration.
"""

from __future__ import annotations

import subprocess

import pytest

from tests import processes, services

pytestmark = pytest.mark.slow


@pytest.fixture
def unsafe_env(tmp_path, s3_endpoint, s3_bucket):
    with services.header_dropping_proxy(s3_endpoint, drop=("If-None-Match",)) as proxy:
        yield services.project_env(
            UTAKATA_DATA_DIR=str(tmp_path),
            UTAKATA_LOG_URL=f"s3://{s3_bucket}/board",
            UTAKATA_S3_ENDPOINT_URL=proxy,
        )


def test_gunicorn_stops_saying_the_endpoint_ignores_conditional_writes(unsafe_env, tmp_path):
    argv = [str(processes.BIN / "gunicorn"), "--config", str(processes.GUNICORN_CONFIG), "--no-control-socket"]
    env = {**unsafe_env, "UTAKATA_BIND": f"127.0.0.1:{services.free_port()}", "UTAKATA_WEB_WORKERS": "1"}
    done = subprocess.run([*argv, "boards_site.wsgi"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to start" in done.stderr and "ignores If-None-Match" in done.stderr


def test_a_celery_worker_stops_saying_the_endpoint_ignores_conditional_writes(unsafe_env):
    argv = [str(processes.BIN / "celery"), "-A", "boards_site", "worker", "--pool", "solo", "--loglevel", "WARNING"]
    done = subprocess.run(argv, env=unsafe_env, cwd=processes.ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to start" in done.stdout + done.stderr and "ignores If-None-Match" in done.stdout + done.stderr


def test_a_web_process_starts_on_an_endpoint_that_honours_them(tmp_path, s3_endpoint, s3_bucket):
    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_LOG_URL=f"s3://{s3_bucket}/board", UTAKATA_S3_ENDPOINT_URL=s3_endpoint
    )
    with processes.gunicorn(env, workers=1, threads=1) as web:
        assert web.url
