"""The embedded cache (one machine, no Redis) adds atomically across processes: locks and cooldowns hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import services

RACE = """
import json, os, sys, django
django.setup()
from django.core.cache import cache
won = []
for round in range(int(sys.argv[2])):
    if cache.add(f"race:{round}", os.getpid(), 60):
        won.append(round)
print(json.dumps(won))
"""


@pytest.mark.slow
def test_two_processes_adding_the_same_keys_each_key_goes_to_one(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    rounds = 300
    procs = [
        subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), str(rounds)], env=env, stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    won = [json.loads(out) for out in outputs]
    assert sorted(r for w in won for r in w) == list(range(rounds)), "every key added exactly once"


def test_the_embedded_cache_is_the_database_cache_without_redis(tmp_path):
    code = (
        "import django; django.setup(); from django.core.cache import caches; c = caches['default'];"
        "print(type(c).__name__, c.add('k', 1), c.add('k', 2), c.get('k'))"
    )
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LocalDatabaseCache", "True", "False", "1"]


def test_the_redis_cache_makes_one_client_per_connection_pool(settings, fresh_redis):
    from board.lib.rediscache import RedisCache

    backend = RedisCache(fresh_redis, {})
    assert backend._cache.get_client() is backend._cache.get_client(write=True)
    backend.set("k", "v")
    assert backend.get("k") == "v"
