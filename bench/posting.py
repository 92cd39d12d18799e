"""Posting: posts/s end to end through the web tier, against a bare boto3 put loop on the same S3 endpoint.

The web tier is gunicorn with the production config (2 workers x 4 threads,
gthread), Redis for the cache and the broker, the log on a moto S3 server
started here (or the endpoint UTAKATA_TEST_S3_ENDPOINT names, see
tests/services.py), a SQLite store. Each client is one browser (requests, with the
form's CSRF token) posting replies through the HTML form; a post counts once
the board answered 書きこみました, i.e. once it is committed to S3. No worker
runs: fan-out is queued in Redis and applying it is not part of the figure.

- ``posting``: each client replies to a thread of its own (the usual board);
- ``posting_one_thread``: every client replies to the same thread, so posts
  queue on that thread's lock (the sequencer's worst case);
- ``..._far``: the same two, and their baseline, through a proxy that holds
  every S3 request for 20 ms, as S3 in a region answers a small PUT: what the
  figures are where the log is not on the same machine, and the writes, not
  the machine's two cores, set the pace;
- ``posting_cpu`` (a line of context): the milliseconds of CPU a post and a
  bare put cost every process they keep busy (the web workers, the S3 server,
  Redis, the clients), read from /proc, medians of alternated rounds;
- ``posting_ceiling``: the posts per second the machine's cores allow at that
  cost, against the bare puts' rate: with the log on the same machine, about
  where the ``posting`` ratio tops out (an estimate: the CPU a post costs moves
  by a tenth from one round to the next, and the rates around it).

The baseline is the loop a post cannot beat: a plain ``put_object`` of an
event-sized body per operation, one boto3 client per thread, same endpoint,
same number of threads.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import uuid
from urllib.parse import urlsplit

from bench.common import compare, cpu_per_op, listening_pid, note, report
from board.boards import UNLIMITED
from tests import processes, services
from tests.fault_proxy import FaultProxy

CLIENTS = 4
POSTS = 400
PUTS = 1000
CPU_ROUNDS = 5
LATENCY = 0.02  # seconds: a small PUT to S3 in the same region
BODY = "ベンチマークの書き込みです。>>1 http://example.com/ " * 3


def bare_puts(endpoint: str, bucket: str, size: int):
    """The baseline's op maker: put_object of size random bytes under a new key."""
    body = os.urandom(size)
    keys = itertools.count()

    def make_op():
        s3 = services.s3_client(endpoint)
        return lambda: s3.put_object(Bucket=bucket, Key=f"baseline/{next(keys):08d}.json", Body=body)

    return make_op


def replies(url: str, thread: str | None = None):
    """The posting op maker: one browser replying to its own new thread, or to thread if given."""

    def make_op():
        client = processes.BoardClient(url)
        key = thread or new_thread(client)
        client.open_form("test", key)
        return lambda: client.reply("test", key, BODY)

    return make_op


def new_thread(client: processes.BoardClient) -> str:
    key = client.new_thread("test", f"ベンチ {uuid.uuid4().hex[:6]}", BODY)
    client.get(f"/test/read.cgi/test/{key}/")  # the poster's next page applies it (read-your-writes)
    return key


def event_size(endpoint: str, bucket: str) -> int:
    s3 = services.s3_client(endpoint)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="bench/incoming/posts/", MaxKeys=1)
    return listed["Contents"][0]["Size"]


def measure(
    env: dict[str, str], endpoint: str, bucket: str, cpu: bool = False
) -> tuple[tuple[float, float], tuple[float, float], float | None]:
    """(posting, baseline) for clients on threads of their own, then on one thread; and with cpu,
    the milliseconds of the machine's CPU a post costs (None if the servers are not its processes).
    """
    post_ms = None
    with processes.gunicorn(env, workers=2, threads=4, log_dir=env["UTAKATA_DATA_DIR"]) as web:
        replies(web.url)()  # one post, to learn the size of an event in the log
        puts = bare_puts(endpoint, bucket, event_size(endpoint, bucket))
        spread = compare(replies(web.url), puts, POSTS, PUTS, CLIENTS)
        hot = compare(replies(web.url, new_thread(processes.BoardClient(web.url))), puts, POSTS, PUTS, CLIENTS)
        if cpu:
            post_ms = cpu_of_a_post(web, endpoint, env["REDIS_URL"], puts)
    return spread, hot, post_ms


def cpu_of_a_post(web: processes.WebServer, endpoint: str, redis_url: str, puts) -> float | None:
    """Print what a post and a bare put cost each process in CPU; return a post's milliseconds."""
    s3 = listening_pid(urlsplit(endpoint).port or 0)
    redis = listening_pid(urlsplit(redis_url).port or 0)
    if s3 is None or redis is None:
        note("posting_cpu: skipped, the S3 endpoint or Redis is not a process of this machine")
        return None
    board = {f"web worker {pid}": pid for pid in web.worker_pids()} | {"S3 server": s3, "Redis": redis}
    posts, bare = [], []
    for _ in range(CPU_ROUNDS):  # alternated, as compare() does, and the median of each process's share
        posts.append(cpu_per_op(replies(web.url), POSTS, board, CLIENTS))
        bare.append(cpu_per_op(puts, POSTS, {"S3 server": s3}, CLIENTS))
    post = {name: statistics.median(round_[name] for round_ in posts) for name in posts[0]}
    put = {name: statistics.median(round_[name] for round_ in bare) for name in bare[0]}
    workers = sum(ms for name, ms in post.items() if name.startswith("web worker"))
    note(
        f"posting_cpu: a post {sum(post.values()):.2f} ms of CPU: web workers {workers:.2f}, "
        f"S3 server {post['S3 server']:.2f}, Redis {post['Redis']:.2f}, clients {post['clients']:.2f}; "
        f"a bare put {sum(put.values()):.2f} ms: S3 server {put['S3 server']:.2f}, client {put['clients']:.2f}"
    )
    return sum(post.values())


def main() -> int:
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = services.s3_credentials()
    data = tempfile.mkdtemp(prefix="utakata-bench-posting-")
    with services.redis_server() as redis_url, services.s3_endpoint() as endpoint:
        bucket = services.new_bucket(endpoint, "bench")
        env = services.project_env(
            UTAKATA_DATA_DIR=data,
            UTAKATA_DEBUG="0",
            UTAKATA_SECRET_KEY="bench",
            UTAKATA_LOG_LEVEL="WARNING",
            REDIS_URL=redis_url,
            UTAKATA_LOG_URL=f"s3://{bucket}/bench",
            UTAKATA_S3_ENDPOINT_URL=endpoint,
            UTAKATA_STORE_URL=f"sqlite://{data}/store.sqlite3",
        )
        processes.seed_board(env, "test", "ベンチ板", **UNLIMITED)
        note(
            f"posting: {POSTS} replies from {CLIENTS} HTTP clients; gunicorn 2 workers x 4 threads; "
            f"S3 log on {services.s3_name()} ({endpoint}), Redis; baseline {PUTS} bare boto3 put_object"
        )
        spread, hot, post_ms = measure(env, endpoint, bucket, cpu=True)
        with FaultProxy(endpoint) as proxy:
            proxy.latency = LATENCY
            note(f"far: every S3 request of both held {LATENCY * 1000:.0f} ms by a proxy")
            far_spread, far_hot, _ = measure({**env, "UTAKATA_S3_ENDPOINT_URL": proxy.url}, proxy.url, bucket)
    report("posting", *spread)
    report("posting_one_thread", *hot)
    report("posting_far", *far_spread)
    report("posting_one_thread_far", *far_hot)
    if post_ms is not None:
        # Every process of a post shares this machine's cores: at that cost they allow so many posts a second.
        cores = os.cpu_count() or 1
        note(f"posting_ceiling: {cores} cores at {post_ms:.2f} ms of CPU a post, against the bare puts' rate")
        report("posting_ceiling", cores * 1000 / post_ms, spread[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
