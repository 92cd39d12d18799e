"""System checks: a backend the settings name but cannot be built fails ``manage.py check``, naming its variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from board import log as log_module
from board import store as store_module
from board.checks import backends_can_be_built
from tests import services

ROOT = Path(__file__).resolve().parent.parent


def test_the_configured_backends_pass_the_check():
    assert backends_can_be_built() == []


def test_a_store_location_its_backend_refuses_fails_the_check_naming_the_variable(settings):
    settings.UTAKATA_STORE = {"BACKEND": "board.store.sqlite.SQLiteStore", "LOCATION": "", "OPTIONS": {}}
    store_module.handler.reset()
    try:
        errors = backends_can_be_built()
    finally:
        store_module.handler.reset()
    refusal = "UTAKATA_STORE_URL: SQLiteStore needs a file path, not ''"
    assert [(error.id, error.msg) for error in errors] == [("utakata.E002", refusal)]


def test_manage_py_check_fails_for_a_log_url_its_backend_refuses(tmp_path):
    log_module.handler.reset()
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_LOG_URL="file://"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "(utakata.E001) UTAKATA_LOG_URL: LocalLog needs an absolute directory path" in done.stderr
