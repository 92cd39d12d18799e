"""Settings from the environment: a malformed value stops the start naming the variable, not a traceback elsewhere.

The settings are read once, at import, so each environment is tried in a
child process of its own (``manage.py check``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parent.parent


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=services.project_env(**{"UTAKATA_DATA_DIR": str(tmp_path), **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["UTAKATA_SETTINGS_TTL", "UTAKATA_COMMIT_DEADLINE", "UTAKATA_PROBE_TIMEOUT_SECONDS"])
@pytest.mark.parametrize("value", ["abc", "nan", "inf"])
def test_seconds_that_are_not_a_finite_number_stop_the_start_naming_the_variable(tmp_path, name, value):
    done = check(tmp_path, **{name: value})
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {name}='{value}' is not a" in done.stderr


def test_a_malformed_setting_stops_manage_py_with_one_line_not_a_traceback(tmp_path):
    done = check(tmp_path, UTAKATA_SETTINGS_TTL="abc")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "ImproperlyConfigured: UTAKATA_SETTINGS_TTL='abc' is not a number of seconds"
    ]


def test_empty_seconds_are_the_default_as_empty_whole_numbers_are(tmp_path):
    done = check(tmp_path, UTAKATA_SETTINGS_TTL="", UTAKATA_COMMIT_DEADLINE="", UTAKATA_PROBE_TIMEOUT_SECONDS="")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("value", ["LOUD", "", "info"])
def test_a_log_level_logging_does_not_know_stops_the_start_naming_the_variable(tmp_path, value):
    done = check(tmp_path, UTAKATA_LOG_LEVEL=value)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: UTAKATA_LOG_LEVEL='{value}': use DEBUG, INFO, WARNING" in done.stderr


@pytest.mark.parametrize(
    "name",
    [
        "UTAKATA_SNAPSHOT_RETENTION_DAYS",
        "UTAKATA_ARCHIVE_RETENTION_DAYS",
        "UTAKATA_RECONCILE_MIN_AGE_SECONDS",
        "UTAKATA_FANOUT_MAX_RETRIES",
        "UTAKATA_ADMIN_COOLOFF_MINUTES",
        "UTAKATA_ADMIN_SESSION_SECONDS",
        "UTAKATA_ADMIN_FAILURE_LIMIT",
        "UTAKATA_VISIBILITY_TIMEOUT",
    ],
)
def test_a_negative_count_or_duration_stops_the_start_naming_the_variable(tmp_path, name):
    done = check(tmp_path, **{name: "-30"})
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {name}=-30 must" in done.stderr


def test_a_data_dir_that_cannot_be_made_stops_the_start_naming_the_variable(tmp_path):
    (tmp_path / "a-file").write_text("")
    done = check(tmp_path, UTAKATA_DATA_DIR=str(tmp_path / "a-file" / "var"))
    assert done.returncode != 0
    assert "ImproperlyConfigured: UTAKATA_DATA_DIR=" in done.stderr and "Not a directory" in done.stderr


def test_an_empty_data_dir_is_the_default_not_the_current_directory(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DATA_DIR)",
        ],
        cwd=tmp_path,
        env=services.project_env(UTAKATA_DATA_DIR=""),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip().splitlines()[-1] == str(ROOT / "var"), done.stderr


def store_options(tmp_path: Path, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.UTAKATA_STORE)"],
        cwd=ROOT,
        env=services.project_env(**{"UTAKATA_DATA_DIR": str(tmp_path), **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_riak_store_keeps_its_change_tokens_in_the_redis_of_redis_url(tmp_path):
    found = store_options(tmp_path, UTAKATA_STORE_URL="riak://127.0.0.1:8098", REDIS_URL="redis://cache:6379/0")
    assert "'changes': 'redis://cache:6379/0'" in found


def test_a_riak_store_url_naming_its_changes_redis_keeps_it(tmp_path):
    url = "riak://127.0.0.1:8098?changes=redis://tokens:6379/2"
    found = store_options(tmp_path, UTAKATA_STORE_URL=url, REDIS_URL="redis://cache:6379/0")
    assert "'changes': 'redis://tokens:6379/2'" in found


@pytest.mark.parametrize("value", ["notaurl", "http://127.0.0.1:6379/0", "localhost:6379"])
def test_a_redis_url_redis_cannot_use_stops_the_start_naming_the_variable(tmp_path, value):
    done = check(tmp_path, REDIS_URL=value)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: REDIS_URL='{value}': use redis://" in done.stderr


@pytest.mark.parametrize("value", ["bogus://x", "notaurl", "redis://127.0.0.1:6379/0;nope"])
def test_a_broker_url_celery_cannot_use_stops_the_start_naming_the_variable(tmp_path, value):
    done = check(tmp_path, CELERY_BROKER_URL=value)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: CELERY_BROKER_URL='{value}'" in done.stderr and "is not a broker URL" in done.stderr


def test_failover_brokers_and_the_local_queue_are_broker_urls(tmp_path):
    assert check(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0;redis://127.0.0.1:6380/0").returncode == 0
    assert check(tmp_path, CELERY_BROKER_URL="filesystem://").returncode == 0
