"""Logs as JSON lines in containers, text in a terminal: one setting, UTAKATA_LOG_FORMAT (board/ops/logformat.py)."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from tests import processes, services

SAY = (
    "import logging; from board.events import new_event; from board.ops.logformat import about; "
    "e = new_event('BoardCreated', 'news', payload={}); "
    "logging.getLogger('board.test').warning('outside'); "
    'exec(\'with about(e):\\n    logging.getLogger("board.test").warning("inside %s", 1)\'); '
    "print(e.id)"
)


def run_shell(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return processes.manage(services.project_env(UTAKATA_DATA_DIR=str(tmp_path), **env), "shell", "-c", SAY, timeout=60)


def test_json_lines_carry_time_level_logger_message_and_the_events_id_and_board(tmp_path):
    done = run_shell(tmp_path, UTAKATA_LOG_FORMAT="json")
    event_id = done.stdout.split()[-1]
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    outside, inside = (line for line in lines if line["logger"] == "board.test")
    assert set(outside) == {"time", "level", "logger", "message"}
    assert (outside["level"], outside["message"]) == ("WARNING", "outside")
    assert outside["time"].endswith("+00:00")
    assert inside | {"time": ""} == {
        "time": "",
        "level": "WARNING",
        "logger": "board.test",
        "message": "inside 1",
        "event_id": event_id,
        "board": "news",
    }


def test_text_is_the_default_for_a_terminal(tmp_path):
    done = run_shell(tmp_path)
    assert " WARNING board.test: outside" in done.stderr
    assert not any(line.startswith("{") for line in done.stderr.splitlines())


def test_an_unknown_format_stops_the_start(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_LOG_FORMAT="xml")
    done = subprocess.run(
        [str(processes.BIN / "python"), "manage.py", "check"],
        env=env,
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "UTAKATA_LOG_FORMAT='xml': use json or text" in done.stderr


def test_the_image_logs_json_and_make_run_text():
    assert "UTAKATA_LOG_FORMAT=json" in (processes.ROOT / "Dockerfile").read_text()
    assert "UTAKATA_LOG_FORMAT" not in (processes.ROOT / "scripts" / "run-local").read_text()


@pytest.mark.slow
def test_gunicorn_writes_its_own_lines_as_json_too(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_LOG_FORMAT="json")
    with processes.gunicorn(env, workers=1, access_log=True, ready_path="/healthz", log_dir=tmp_path) as web:
        requests.get(web.url + "/healthz", timeout=10)
        processes.eventually(lambda: '"gunicorn.access"' in web.output(), 10, "the access log line")
        output = web.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {"gunicorn.error", "gunicorn.access"} <= {line["logger"] for line in lines}
    assert any("GET /healthz" in line["message"] for line in lines if line["logger"] == "gunicorn.access")


def test_a_clients_oversized_form_is_one_warning_line_not_an_error_with_a_traceback(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_LOG_FORMAT="json")
    with processes.gunicorn(env, workers=1, ready_path="/healthz", log_dir=tmp_path) as web:
        fields = {f"f{i}": "x" for i in range(1001)}  # past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS
        token = "a" * 32  # a CSRF cookie and header that agree: the form's view is what reads the fields
        agreeing = {"cookies": {"csrftoken": token}, "headers": {"X-CSRFToken": token}}
        answered = requests.post(web.url + "/test/post", data=fields, timeout=10, **agreeing)
        processes.eventually(lambda: "TooManyFieldsSent" in web.output(), 10, "the security logger's line")
        output = web.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (found,) = (line for line in lines if line["logger"] == "django.security.TooManyFieldsSent")
    assert answered.status_code == 400
    assert found["level"] == "WARNING" and "exc" not in found
