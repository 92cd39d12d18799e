"""Queueing a task as one LPUSH (board/tasks/queueing.py): the message is the one Celery sends.

Each test builds a Celery app the way boards_site/celery.py does (the
project's CELERY_* settings) on the session's real Redis, and a task named
like the fan-out; what ``apply_async`` pushed onto the queue is the reference.
That a worker runs such a message end to end is tests/test_worker.py (posts
go through gunicorn and a real worker on Redis).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
import redis
from celery import Celery

from board.tasks import queueing

IDS = ("id", "root_id", "correlation_id", "delivery_tag")


@pytest.fixture(autouse=True)
def forget_senders():
    """Senders are kept per process and task name: each test's app is new."""
    queueing.forget()
    yield
    queueing.forget()


@pytest.fixture
def app(fresh_redis, settings):
    settings.CELERY_BROKER_URL = fresh_redis
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    app = Celery("queueing-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    yield app
    app.close()


@pytest.fixture
def task(app):
    @app.task(name="utakata.fanout.apply", acks_late=True, shared=False)
    def apply(key):
        return key

    return apply


@pytest.fixture
def broker(fresh_redis):
    client = redis.Redis.from_url(fresh_redis)
    yield client
    client.close()


def queued(broker: redis.Redis) -> list[dict]:
    messages = [json.loads(m) for m in broker.lrange("fanout", 0, -1)]
    for m in messages:
        for part in (m["headers"], m["properties"]):
            for name in IDS:
                part.pop(name, None)
    return messages


def test_the_message_is_the_one_apply_async_pushes_apart_from_its_ids(task, broker):
    task.apply_async(("incoming/posts/test/1/0002.json",))
    celerys = queued(broker)
    broker.delete("fanout")

    queueing.send(task, "incoming/posts/test/1/0002.json")

    assert queued(broker) == celerys


def test_the_message_carries_the_task_its_arguments_and_one_id(task, broker):
    message = json.loads(queueing.sender_for(task).message(("incoming/posts/test/1/0002.json",), "abc"))

    assert message["headers"]["task"] == "utakata.fanout.apply"
    assert json.loads(base64.b64decode(message["body"]))[0] == ["incoming/posts/test/1/0002.json"]
    assert message["headers"]["id"] == message["headers"]["root_id"] == message["properties"]["correlation_id"]


def test_each_message_has_an_id_of_its_own(task, broker):
    queueing.send(task, "a")
    queueing.send(task, "a")

    ids = {json.loads(m)["headers"]["id"] for m in broker.lrange("fanout", 0, -1)}
    assert len(ids) == 2


def test_a_broker_that_is_not_redis_is_left_to_apply_async(app, task):
    app.conf.broker_url = "memory://"

    assert queueing.sender_for(task) is None


def test_a_tls_broker_is_left_to_apply_async(app, task):
    app.conf.broker_url = "rediss://127.0.0.1:6379/0"

    assert queueing.sender_for(task) is None


def test_a_forked_process_opens_a_client_of_its_own(task):
    parents = queueing.sender_for(task)
    pid = os.fork()
    if pid == 0:  # the child reports by its exit code alone
        os._exit(0 if queueing.sender_for(task).client is not parents.client else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_a_key_prefix_in_the_transport_options_is_left_to_apply_async(app, task):
    app.conf.broker_transport_options = {"visibility_timeout": 10, "global_keyprefix": "utakata:"}

    assert queueing.sender_for(task) is None


def test_a_task_with_a_time_limit_of_its_own_is_left_to_apply_async(task):
    task.time_limit = 60  # Celery writes it into the message's headers

    assert queueing.sender_for(task) is None


def test_eager_mode_is_left_to_apply_async(app, task):
    app.conf.task_always_eager = True

    assert queueing.sender_for(task) is None


def test_a_broker_that_cannot_be_reached_raises(app, task):
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port

    with pytest.raises(redis.RedisError):
        queueing.send(task, "a")


def test_a_broker_that_does_not_answer_is_given_up_on_after_the_timeout(app, task, monkeypatch):
    monkeypatch.setattr(queueing, "TIMEOUT", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the kernel's backlog), never answers
        app.conf.broker_url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        with pytest.raises(redis.RedisError):
            queueing.send(task, "a")

    assert time.monotonic() - started < 2


def test_the_fan_out_task_on_the_projects_redis_broker_is_queued_by_one_lpush(fresh_redis, monkeypatch):
    from board.tasks.fanout import apply_logged

    monkeypatch.setattr(apply_logged.app.conf, "broker_url", fresh_redis)
    monkeypatch.setattr(apply_logged.app.conf, "broker_transport_options", {"visibility_timeout": 3600})

    assert queueing.sender_for(apply_logged) is not None
