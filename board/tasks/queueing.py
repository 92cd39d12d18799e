"""Queueing a task as one Redis LPUSH of the message Celery itself would send.

Celery's ``apply_async`` costs 0.5-0.7 ms of CPU a call (options, routing,
the signature, kombu's producer, connection and channel): half the S3 PUT that
commits a post, on a web tier whose CPU sets the posting rate.
When the broker is Redis laid out as kombu lays it out by default, the message
(Celery's task protocol 2 inside kombu's Redis envelope) is built here and
pushed onto the queue's list, which is all kombu does with it: the workers
take it like any other task (acks_late, redelivery, retries). Any other
broker (TLS and failover URLs too), eager mode, a route other than a plain
direct queue, or transport options that change the layout (a key prefix,
priorities) go through ``apply_async``. Celery's publish signals are not sent
on this path (nothing here listens to them). tests/test_queueing.py holds the
message to Celery's own.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from typing import Any

import redis
from celery import Task
from celery.utils.nodenames import anon_nodename

# Task attributes Celery copies into a message (celery.app.task.extract_exec_options): none may be set.
MESSAGE_OPTIONS = (
    "queue",
    "routing_key",
    "exchange",
    "priority",
    "expires",
    "compression",
    "time_limit",
    "soft_time_limit",
)
# Transport options that leave kombu's Redis layout as this module writes it.
LAYOUT_NEUTRAL = {"visibility_timeout"}
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
# Seconds an LPUSH may take: the post it announces is committed and its poster waits for the answer;
# a message lost to a hung broker is applied by reconcile (README, "When Redis is down").
TIMEOUT = 2.0

_senders: dict[str, Sender | None] = {}  # by task name, for the process _pid
_pid = os.getpid()
_lock = threading.Lock()


def send(task: Task, *args: Any) -> None:
    """Queue task(*args) for the workers: one LPUSH on a Redis broker, else ``task.apply_async``."""
    sender = sender_for(task)
    if sender is None:
        task.apply_async(args)
    else:
        sender.send(args)


class Sender:
    """What is the same in every message of one task from this process, and the broker's client."""

    def __init__(self, task: Task, queue: str, client: redis.Redis) -> None:
        self.task = task
        self.queue = queue
        self.client = client
        self.origin = anon_nodename()

    def message(self, args: tuple, task_id: str | None = None) -> bytes:
        """The envelope kombu's Redis transport would push for ``task.apply_async(args)``."""
        task_id = task_id or str(uuid.uuid4())
        body = json.dumps([list(args), {}, EMBED]).encode()
        return json.dumps(
            {
                "body": base64.b64encode(body).decode(),
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": {
                    "lang": "py",
                    "task": self.task.name,
                    "id": task_id,
                    "shadow": None,
                    "eta": None,
                    "expires": None,
                    "group": None,
                    "group_index": None,
                    "retries": 0,
                    "timelimit": [None, None],
                    "root_id": task_id,
                    "parent_id": None,
                    "argsrepr": repr(tuple(args)),
                    "kwargsrepr": "{}",
                    "origin": self.origin,
                    "ignore_result": self.task.ignore_result,
                    "replaced_task_nesting": 0,
                    "stamped_headers": None,
                    "stamps": {},
                },
                "properties": {
                    "correlation_id": task_id,
                    "reply_to": self.task.app.thread_oid,
                    "delivery_mode": 2,
                    "delivery_info": {"exchange": "", "routing_key": self.queue},
                    "priority": 0,
                    "body_encoding": "base64",
                    "delivery_tag": str(uuid.uuid4()),
                },
            }
        ).encode()

    def send(self, args: tuple) -> None:
        self.client.lpush(self.queue, self.message(args))


def sender_for(task: Task) -> Sender | None:
    """This process's Sender for task, or None where only ``apply_async`` knows how to queue it."""
    global _pid
    sender = _senders.get(task.name, False)
    if sender is False or _pid != os.getpid():
        with _lock:
            if _pid != os.getpid():  # forked: the parent's connections are not this process's
                _senders.clear()
                _pid = os.getpid()
            if task.name not in _senders:
                _senders[task.name] = _make_sender(task)
            sender = _senders[task.name]
    return sender


def forget() -> None:
    """Drop every Sender: the next send looks at the app's configuration again (tests change it)."""
    with _lock:
        _senders.clear()


def _make_sender(task: Task) -> Sender | None:
    conf = task.app.conf
    url = conf.broker_url or ""
    if not url.startswith("redis://") or ";" in url or conf.broker_use_ssl:  # TLS and failover: kombu's own
        return None
    if conf.task_always_eager or conf.task_protocol != 2 or conf.task_serializer != "json":
        return None
    if set(conf.broker_transport_options or {}) - LAYOUT_NEUTRAL:
        return None
    if conf.task_default_priority is not None or conf.task_compression or conf.task_send_sent_event:
        return None
    if any(getattr(task, name, None) is not None for name in MESSAGE_OPTIONS):
        return None  # the task sets what would change its message: left to Celery
    if getattr(task, "serializer", None) not in (None, "json"):
        return None
    if conf.task_default_delivery_mode not in (2, "persistent"):
        return None
    queue = task.app.amqp.router.route({}, task.name)["queue"]
    exchange = queue.exchange
    if exchange.type != "direct" or exchange.name != queue.name or queue.routing_key != queue.name:
        return None
    if queue.expires is not None or queue.message_ttl is not None or queue.max_priority is not None:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    return Sender(task, queue.name, client)
