"""Numbers hold: many processes posting to one thread at once give each reply its own number, gapless.

Real parts only: gunicorn with several worker processes, the private Redis,
the log on an S3 endpoint (moto), a SQLite store; the replies are real HTTP
POSTs through the HTML form, with the CSRF token each client got from a GET.
"""

from __future__ import annotations

import threading

import boto3
import pytest
import redis

from board.boards import UNLIMITED
from board.events import decode
from tests import processes, services

pytestmark = pytest.mark.slow

REPLIES = 200
PREFIX = "board"


@pytest.fixture
def env(tmp_path, fresh_redis, s3_endpoint, s3_bucket):
    env = services.project_env(
        UTAKATA_DATA_DIR=str(tmp_path),
        REDIS_URL=fresh_redis,
        UTAKATA_LOG_URL=f"s3://{s3_bucket}/{PREFIX}",
        UTAKATA_S3_ENDPOINT_URL=s3_endpoint,
        UTAKATA_STORE_URL=f"sqlite://{tmp_path / 'store.sqlite3'}",
    )
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    return env


@pytest.fixture
def web(env, tmp_path):
    with processes.gunicorn(env, workers=4, threads=4, log_dir=tmp_path) as server:
        assert len(server.worker_pids()) >= 2
        yield server


@pytest.fixture
def thread(web):
    """A thread the store knows (read-your-writes applies it), so replies are accepted without a worker."""
    client = processes.BoardClient(web.url)
    key = client.new_thread("test", "並行スレ", "1")
    assert client.get(f"/test/read.cgi/test/{key}/").status_code == 200
    return key


class Acks:
    """A count of acknowledged replies that another thread can wait on."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def add(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 120) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, timeout)


def burst(web, thread: str, count: int, acks: Acks | None = None) -> list[int]:
    """count clients each load the thread, then all reply at once; return the numbers they were given."""
    acks = acks or Acks()
    clients = [processes.BoardClient(web.url) for _ in range(count)]
    ready = threading.Barrier(count)
    numbers: list[int | Exception] = [0] * count

    def one(i: int) -> None:
        try:
            clients[i].open_form("test", thread)
            ready.wait(timeout=60)
            numbers[i] = clients[i].reply("test", thread, f"reply {i}")
            acks.add()
        except Exception as exc:
            numbers[i] = exc

    workers = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    failures = [n for n in numbers if isinstance(n, Exception)]
    assert not failures, f"{len(failures)} replies not acknowledged, e.g. {failures[0]!r}"
    return numbers  # type: ignore[return-value]


def logged_posts(endpoint: str, bucket: str, thread: str) -> dict[int, dict]:
    """Every post of the thread committed to the S3 log, by number, read back from the bucket itself."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    prefix = f"{PREFIX}/incoming/posts/test/{thread}/"
    found: dict[int, dict] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            number = int(item["Key"][len(prefix) :].removesuffix(".json"))
            event = decode(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            assert event.number == number, f"{item['Key']} holds post {event.number}"
            assert number not in found
            found[number] = {"body": event.payload["body"], "id": event.id}
    return found


def assert_each_reply_once(numbers: list[int], logged: dict[int, dict]) -> None:
    assert sorted(numbers) == list(range(2, REPLIES + 2)), "each acknowledged reply got its own number"
    assert sorted(logged) == list(range(1, REPLIES + 2)), "the log holds 1..201, no gap, nothing more"
    bodies = [logged[n]["body"] for n in range(2, REPLIES + 2)]
    assert sorted(bodies) == sorted(f"reply {i}" for i in range(REPLIES)), "every reply is in the log once"


def test_concurrent_replies_from_several_processes_get_numbers_2_to_201_exactly_once(
    web, thread, s3_endpoint, s3_bucket
):
    numbers = burst(web, thread, REPLIES)
    assert_each_reply_once(numbers, logged_posts(s3_endpoint, s3_bucket, thread))


def test_numbers_stay_unique_and_gapless_when_redis_is_flushed_mid_burst(
    web, thread, fresh_redis, s3_endpoint, s3_bucket
):
    acks = Acks()
    acked_at_flush: list[int] = []

    def flush_mid_burst() -> None:
        acks.wait_for(REPLIES // 4)
        client = redis.Redis.from_url(fresh_redis)
        client.flushall()  # the sequencer hint, the thread lock and the queued fan-outs, all gone
        client.close()
        acked_at_flush.append(acks.count)

    flusher = threading.Thread(target=flush_mid_burst)
    flusher.start()
    numbers = burst(web, thread, REPLIES, acks)
    flusher.join(timeout=120)
    assert acked_at_flush and acked_at_flush[0] < REPLIES, "the flush came before the burst ended"
    assert_each_reply_once(numbers, logged_posts(s3_endpoint, s3_bucket, thread))
