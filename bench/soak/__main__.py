"""``python -m bench.soak [--duration 300]``: posting and reading load under faults, then every post checked.

The whole board on loopback, as in production: gunicorn (2 workers x 4
threads, gthread), a Celery worker (prefork, 2 processes), a Redis of its own
(on a free port, so it can be restarted empty), an SQLite store, and the log
on an S3 endpoint (a moto server started here, or the one
UTAKATA_TEST_S3_ENDPOINT names) reached through a fault proxy
(tests/fault_proxy.py). Posters and readers (load.py) run for the whole
duration while the faults (faults.py) are injected; then the run settles,
the periodic reconcile runs once (as beat would), and every post is looked
for in the log and on the pages (check.py).

It prints the figures and every problem found, and exits 1 if any
acknowledged post was lost or any post was written twice (or any other
problem check.py lists), 2 on bad options.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

from bench.common import note
from bench.soak import check
from bench.soak.faults import Faults, Plan
from bench.soak.load import BOARD, Ledger, Poster, Reader
from board.boards import UNLIMITED
from tests import processes, services
from tests.fault_proxy import FaultProxy

SETTLE = 60.0  # seconds the posters get to finish the post they had begun when the run ended


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds S3 hangs, then fails (default 30)")
    parser.add_argument("--redis-down", type=float, default=5.0, help="seconds Redis stays down (default 5)")
    parser.add_argument("--posters", type=int, default=4, help="posting threads (default 4)")
    parser.add_argument("--readers", type=int, default=4, help="reading threads (default 4)")
    parsed = parser.parse_args(argv)
    try:
        Plan(parsed.duration, parsed.outage, parsed.redis_down).check()
    except ValueError as exc:
        parser.error(str(exc))
    if parsed.posters < 1 or parsed.readers < 0:
        parser.error("at least one poster, and no negative number of readers")
    return parsed


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    plan = Plan(args.duration, args.outage, args.redis_down)
    data = tempfile.mkdtemp(prefix="utakata-soak-")
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = services.s3_credentials()
    with services.running_redis() as redis, services.s3_endpoint() as endpoint, FaultProxy(endpoint) as proxy:
        bucket = services.new_bucket(endpoint, "soak")
        direct = services.project_env(
            UTAKATA_DATA_DIR=data,
            UTAKATA_DEBUG="0",
            UTAKATA_SECRET_KEY="soak",
            REDIS_URL=redis.url,
            UTAKATA_LOG_URL=f"s3://{bucket}/soak",
            UTAKATA_S3_ENDPOINT_URL=endpoint,
            UTAKATA_STORE_URL=f"sqlite://{data}/store.sqlite3?timeout=60",
            UTAKATA_RECONCILE_MIN_AGE_SECONDS="0",
        )
        env = {**direct, "UTAKATA_S3_ENDPOINT_URL": proxy.url}  # the board's processes go through the proxy
        processes.seed_board(env, BOARD, "ソーク板", **UNLIMITED)
        note(
            f"soak: {args.duration:g} s, {args.posters} posters and {args.readers} readers on gunicorn "
            f"2 workers x 4 threads, a Celery worker (2 processes), Redis, S3 on {services.s3_name()} "
            f"({endpoint}) behind a fault proxy; S3 hangs {args.outage:g} s then fails {args.outage:g} s; "
            f"Redis down {args.redis_down:g} s; files in {data}"
        )
        with processes.gunicorn(env, workers=2, threads=4, log_dir=data) as web:
            ledger = Ledger()
            faults = Faults(plan, ledger, env, web, redis, proxy, data)
            try:
                seconds = run(args, web.url, ledger, faults)
                ledger.dump(data)
                return verify(ledger, faults, web.url, direct, seconds)
            finally:
                faults.worker.stop()


def run(args: argparse.Namespace, url: str, ledger: Ledger, faults: Faults) -> float:
    """The load with the faults; the seconds it ran."""
    stop = threading.Event()
    posters = [Poster(n, url, ledger, stop) for n in range(args.posters)]
    readers = [Reader(n, url, ledger, stop) for n in range(args.readers)]
    for thread in [*posters, *readers, faults]:
        thread.start()
    time.sleep(max(0.0, args.duration - ledger.now()))
    while faults.is_alive() and not faults.scheduled.wait(0.5):
        pass  # a rebuild may outlast the duration: the load goes on until it ended
    seconds = ledger.now()
    stop.set()
    for thread in [*posters, *readers]:
        thread.join(SETTLE)
    faults.finish.set()
    faults.join(30)
    for window in faults.windows:
        note(f"t={window.start:5.0f}-{window.end:5.0f} s  {window.name}")
    for line in faults.notes:
        note(line)
    if faults.error is not None:
        raise faults.error
    stuck = [t.name for t in posters if t.is_alive()]
    if stuck:
        raise RuntimeError(f"{', '.join(stuck)} still sending a post {SETTLE:g} s after the end")
    return seconds


def verify(ledger: Ledger, faults: Faults, url: str, direct: dict[str, str], seconds: float) -> int:
    """Check every post, print the figures and the problems; the exit status."""
    os.environ.update(direct)  # this process reads the log straight from S3, not through the proxy
    import django

    django.setup()
    from board.log import get_log

    log = check.in_log(get_log())
    threads = {s.acked[0] for s in ledger.submissions if s.acked} | {thread for at in log.values() for thread, _ in at}
    pages = check.on_pages(url, threads)
    missing_before = sum(1 for tag in log if tag not in pages)
    note(f"before reconcile: {missing_before} post(s) in the log not yet on the pages (fan-out lost to a fault)")
    note(f"reconcile: {faults.reconcile()}")
    findings = check.compare(ledger, check.in_log(get_log()), check.on_pages(url, threads))
    for line in check.figures(ledger, faults.windows, seconds):
        print(line, flush=True)
    print(
        f"acknowledged posts: {findings.acknowledged}, all in the log and on the pages once"
        if not findings.problems
        else f"acknowledged posts: {findings.acknowledged}; PROBLEMS:",
        flush=True,
    )
    print(f"posts written without an acknowledgement (given up or never answered): {findings.unacknowledged_written}")
    for problem in findings.problems:
        print(f"  {problem}", flush=True)
    return 1 if findings.problems else 0


if __name__ == "__main__":
    sys.exit(main())
