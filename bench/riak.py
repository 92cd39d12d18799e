"""Riak: rehydrate into real Riak nodes, serving from them, and how many requests each read sends.

Starts its own clusters from the shared release (tests/riak_nodes.py: a
1-node and a 3-node cluster, started side by side, ~30 s a node) and stops
them at the end, whatever happens. Printed, each against a baseline
measured in the same run:

- ``riak_rehydrate_<n>node``: ``plan_restore`` + ``restore`` (what
  ``manage.py rehydrate`` runs, with its default processes) of a generated
  log (bench.rehydrate's realistic board) into an empty Riak store, events/s;
  the baseline is a bare parallel PUT loop (urllib3, the same processes and
  the same concurrency per process as the store's, option ``concurrency``)
  writing the objects the restore leaves, once each, with their bytes, headers
  (2i index, metadata) and quorums, into the same nodes, as events/s of the
  same log. The objects are listed from a SQLite restore of the same log.
- ``riak_<read>_vs_sqlite``: the thread page (l50 and whole 1000 res), the
  dat Range poll (``bytes=<size-1>-``) and posting (replies through the form,
  S3 log on moto, Redis) on a gunicorn whose store is the Riak cluster,
  against the same on a gunicorn with the SQLite store, same seed, same run.
- ``# riak requests``: HTTP requests the store sends for each read (counted
  in this process through django.test.Client, board.store.riak.store.request
  wrapped as tests/test_riak_board.py does), and for one post end to end
  (submit, then the apply a worker runs). The store keeps its reads against
  change tokens in the bench's Redis, so a warm read sends none.

    .venv/bin/python -m bench.riak [--events 1000000] [--serve-nodes 3] [--skip-rehydrate | --skip-serve]

``--skip-serve`` measures the rehydrate on a 1-node cluster only (no serving).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 1_000_000
CLIENTS = 4
RES = 1000


# --- phases run in a process of their own ---------------------------------------------------


def store_from_url(url: str):
    from board.lib.backends import parse_url
    from board.store import SCHEMES, handler

    return handler.create(parse_url(url, SCHEMES, "UTAKATA_STORE_URL"))


def restore_phase(directory: str, url: str, workers: int) -> dict:
    """``manage.py rehydrate``'s restore into the store at url, its Riak requests counted (forks included)."""
    from board.lifecycle.plan import plan_restore
    from board.lifecycle.rehydrate import restore
    from board.log.local import LocalLog
    from board.store.riak import store as riak_store

    counts = {m: multiprocessing.Value("q", 0) for m in ("GET", "PUT", "other")}
    real = riak_store.request

    def counting(cluster, method, path, *args, **kwargs):
        value = counts.get(method, counts["other"])
        with value.get_lock():
            value.value += 1
        return real(cluster, method, path, *args, **kwargs)

    riak_store.request = counting  # the restore's forked processes inherit it
    log = LocalLog(directory)
    store = store_from_url(url)
    if not store.is_empty():
        raise SystemExit(f"{url} is not empty")
    started = time.perf_counter()
    report = restore(log, store, plan_restore(log), workers=workers)
    seconds = time.perf_counter() - started
    store.close()
    return {"events": report.applied, "seconds": seconds, "requests": {m: v.value for m, v in counts.items()}}


def objects_of(sqlite_path: str) -> list[tuple[str, bytes]]:
    """Every object a restore left in a SQLite store, as (Riak key, value): what the bare loop writes."""
    from board.store.sqlite import SQLiteStore

    store = SQLiteStore(sqlite_path)
    found = [(f"{bucket}/{key}", values[0]) for bucket, key, values in store.items()]
    store.close()
    return found


def puts_phase(sqlite_path: str, url: str, workers: int) -> dict:
    """The bare loop: the restore's objects PUT once each, in workers processes of ``concurrency`` threads."""
    from urllib.parse import quote

    import urllib3

    from board.readmodel import MODEL_VERSION
    from board.store.riak.transport import parse_nodes

    items = objects_of(sqlite_path)  # read before the fork: the children share them
    store = store_from_url(url)
    concurrency, query = store.concurrency, store._write_query()
    bucket = f"{store.prefix}.bare"
    headers = {
        "Content-Type": "application/octet-stream",
        "x-riak-meta-model": str(MODEL_VERSION),
        "x-riak-index-gen_int": "1",
    }
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    nodes = parse_nodes(store.location)
    context = multiprocessing.get_context("fork")
    go = context.Event()

    def child(shard: int) -> None:
        pools = [urllib3.HTTPConnectionPool(h, p, maxsize=concurrency, retries=False) for h, p in nodes]
        mine = items[shard::workers]
        go.wait()

        def put(i: int) -> None:
            key, value = mine[i]
            path = f"/types/{store.type}/buckets/{bucket}/keys/{quote(key, safe='')}?{qs}"
            got = pools[i % len(pools)].urlopen("PUT", path, body=value, headers=headers)
            if got.status not in (200, 201, 204):
                raise RuntimeError(f"PUT {path}: HTTP {got.status}")

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(put, range(len(mine))))

    procs = [context.Process(target=child, args=(i,)) for i in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # every child forked and waiting
    started = time.perf_counter()
    go.set()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    if any(proc.exitcode for proc in procs):
        raise SystemExit("a bare PUT process failed")
    return {"objects": len(items), "bytes": sum(len(v) for _, v in items), "seconds": seconds}


def phase(*args: str) -> dict:
    """Run ``bench.riak --phase ...`` in a fresh process; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.riak", "--phase", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rehydrate_phase(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rehydrate", "--phase", *args], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"bench.rehydrate phase {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- clusters -------------------------------------------------------------------------------


@contextlib.contextmanager
def clusters(sizes: list[int]):
    """Start a cluster of each size side by side; stop every one on the way out, whatever happened."""
    from tests import riak_nodes

    home = riak_nodes.riak_home()
    if home is None:
        raise SystemExit("no Riak release: set UTAKATA_RIAK_HOME or put it at ../shared/riak")
    made = {n: riak_nodes.RiakCluster(home, nodes=n) for n in sizes}
    errors: list[BaseException] = []

    def start(cluster) -> None:
        try:
            cluster.start()
        except BaseException as exc:
            errors.append(exc)

    # SIGTERM (a CI timeout, kill) must stop the nodes too: make it an exception.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        starters = [threading.Thread(target=start, args=(c,)) for c in made.values()]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        if errors:
            raise errors[0]
        yield made
    finally:
        for cluster in made.values():
            with contextlib.suppress(Exception):
                cluster.stop()
        signal.signal(signal.SIGTERM, previous)


# --- the parts --------------------------------------------------------------------------------


def rehydrate_part(made: dict, scratch: Path, events: int) -> list[tuple]:
    from bench.common import note
    from board.lifecycle.rehydrate import default_workers

    log_dir, sqlite = scratch / "log", scratch / "objects.sqlite3"
    made_log = rehydrate_phase("snapshot", "--dir", str(log_dir), "--events", str(events))
    workers = default_workers()
    listed = rehydrate_phase("rehydrate", "--dir", str(log_dir), "--store", str(sqlite))
    note(
        f"rehydrate: {made_log['events']:,} generated events (bench.rehydrate's board, snapshot "
        f"{made_log['bytes'] / 2**20:.0f} MB); {workers} restore processes; a SQLite restore of the same log "
        f"({listed['seconds']:.0f}s) lists the objects the bare loop writes"
    )
    figures = []
    for nodes, cluster in made.items():
        url = cluster.url(type="utakata", prefix=f"rh{uuid.uuid4().hex[:8]}")
        restored = phase("restore", "--dir", str(log_dir), "--store", url, "--workers", str(workers))
        bare = phase("puts", "--sqlite", str(sqlite), "--store", url, "--workers", str(workers))
        req = restored["requests"]
        note(
            f"{nodes}-node Riak (n_val {min(3, nodes)}): restore {restored['seconds']:.1f}s "
            f"({req['GET']:,} GETs, {req['PUT']:,} PUTs, {req['other']:,} other); bare loop "
            f"{bare['objects']:,} PUTs of {bare['bytes'] / 2**20:.0f} MB in {bare['seconds']:.1f}s "
            f"({bare['objects'] / bare['seconds']:,.0f} PUT/s)"
        )
        figures.append(
            (
                f"riak_rehydrate_{nodes}node",
                restored["events"] / restored["seconds"],
                restored["events"] / bare["seconds"],
            )
        )
    return figures


def seed(store, end: int, threads: int = 20) -> tuple[str, str]:
    """/test/ with threads threads, the last two of RES - 1 and RES posts; return their keys.

    The Range poll asks the live one (RES - 1 posts): the last byte of a
    stopped thread is in its stop line, which needs no posts page.
    """
    from bench.common import apply_events, board_events

    sizes = {threads - 2: RES - 1, threads - 1: RES}
    apply_events(store, board_events("test", threads, 500, end - threads, lambda i: sizes.get(i, 5)))
    return str(end - 2), str(end - 1)


def serve_part(cluster, scratch: Path, rounds: int) -> tuple[list[tuple], dict]:
    """The same reads and posts on a Riak-backed and a SQLite-backed server; then requests per read."""
    import boto3
    import requests

    from bench.common import compare, get_loop, note
    from bench.posting import replies
    from board.store.sqlite import SQLiteStore
    from tests import processes, services

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    figures = []
    with services.redis_server() as redis_url, services.s3_server() as endpoint:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        riak_url = cluster.url(type="utakata", prefix=f"sv{uuid.uuid4().hex[:8]}")
        envs = {}
        for i, (name, store_url) in enumerate((("riak", riak_url), ("sqlite", f"sqlite://{scratch}/serve.sqlite3"))):
            data = scratch / f"serve-{name}"
            (data / "static").mkdir(parents=True)  # STATIC_ROOT, or WhiteNoise warns
            envs[name] = services.project_env(
                UTAKATA_DATA_DIR=str(data),
                UTAKATA_DEBUG="0",
                UTAKATA_SECRET_KEY="bench",
                UTAKATA_LOG_LEVEL="WARNING",
                UTAKATA_ALLOWED_HOSTS="localhost,127.0.0.1,testserver",
                REDIS_URL=redis_url.rsplit("/", 1)[0] + f"/{i + 1}",
                UTAKATA_LOG_URL=f"s3://{bucket}/{name}",
                UTAKATA_S3_ENDPOINT_URL=endpoint,
                UTAKATA_STORE_URL=store_url,
            )
        os.environ.update(envs["riak"])  # this process reads and counts on the Riak side
        import django

        django.setup()
        from board.store import get_store

        end = int(time.time()) - 3600
        live, key = seed(get_store(), end)
        sqlite = SQLiteStore(str(scratch / "serve.sqlite3"))
        seed(sqlite, end)
        sqlite.close()
        with (
            processes.gunicorn(envs["riak"], log_dir=scratch) as on_riak,
            processes.gunicorn(envs["sqlite"], log_dir=scratch) as on_sqlite,
        ):
            webs = {"riak": on_riak.url, "sqlite": on_sqlite.url}
            path = f"/test/read.cgi/test/{key}/"
            page = requests.get(on_riak.url + path, timeout=60).content
            if page.count(b"data-number=") != RES or requests.get(on_sqlite.url + path, timeout=60).content != page:
                raise RuntimeError("the Riak and SQLite servers do not serve the same thread page")
            dat_path = f"/test/dat/{live}.dat"
            dat = requests.get(on_riak.url + dat_path, headers={"Accept-Encoding": "identity"}, timeout=60).content
            tail = {"Range": f"bytes={len(dat) - 1}-"}
            last = f'id="{RES}"'.encode()
            note(
                f"serving: gunicorn 2 workers x 4 threads on the {cluster.nodes}-node Riak (n_val "
                f"{min(3, cluster.nodes)}) against the same on SQLite, {CLIENTS} HTTP clients, a {RES}-res thread "
                f"(pages) and a live {RES - 1}-res one (the dat poll)"
            )
            reads = [
                ("riak_thread_l50_vs_sqlite", path + "l50", {}, 200, 600),
                ("riak_thread_page_vs_sqlite", path, {}, 200, 200),
                ("riak_dat_range_vs_sqlite", dat_path, tail, 206, 1500),
            ]
            for name, url, headers, status, total in reads:

                def loop(side: str, url=url, headers=headers, status=status):
                    return get_loop(webs[side] + url, status, contains=last if status == 200 else None, headers=headers)

                rates = compare(loop("riak"), loop("sqlite"), total, total, CLIENTS, rounds)
                figures.append((name, *rates))
            rates = compare(replies(on_riak.url), replies(on_sqlite.url), 300, 300, CLIENTS, rounds)
            figures.append(("riak_posting_vs_sqlite", *rates))
        counts = count_requests(key, live)
    return figures, counts


def count_requests(key: str, live: str) -> dict[str, Counter]:
    """HTTP requests the Riak store sends for one of each read, warm (the board's settings kept)."""
    from django.test import Client
    from django.utils.http import http_date

    from board.log.layout import incoming_key
    from board.posting.commit import submit
    from board.posting.validation import Submission
    from board.readmodel.projection import apply
    from board.store import get_store
    from board.store.riak import store as riak_store
    from board.tasks.fanout import apply_key

    made: list[str] = []
    real = riak_store.request

    def counting(cluster, method, url, *args, **kwargs):
        made.append(method)
        return real(cluster, method, url, *args, **kwargs)

    riak_store.request = counting
    client = Client()
    dat_url = f"/test/dat/{live}.dat"
    size = len(client.get(dat_url).content)
    reads = {
        "thread page l50": (f"/test/read.cgi/test/{key}/l50", {}),
        f"thread page {RES} res": (f"/test/read.cgi/test/{key}/", {}),
        "board top": ("/test/", {}),
        "subject.txt": ("/test/subject.txt", {}),
        "bbsmenu.html": ("/bbsmenu.html", {}),
        f"dat Range poll ({RES - 1}-res live thread)": (dat_url, {"HTTP_RANGE": f"bytes={size - 1}-"}),
        f"dat Range poll ({RES}-res stopped thread)": (f"/test/dat/{key}.dat", {"HTTP_RANGE": "bytes=-1"}),
        "dat 304 (If-Modified-Since)": (dat_url, {"HTTP_IF_MODIFIED_SINCE": http_date(time.time())}),
    }
    counts: dict[str, Counter] = {}
    for name, (url, headers) in reads.items():
        client.get(url, **headers)  # warm: settings kept for a second, bucket properties checked once
        made.clear()
        status = client.get(url, **headers).status_code
        counts[f"{name} (HTTP {status})"] = Counter(made)
    thread = submit("test", None, Submission(subject="数える", body="1"), "192.0.2.7")
    apply(get_store(), thread.event)
    made.clear()
    posted = submit("test", thread.thread, Submission(body="数える"), "192.0.2.7")
    counts["post: submit (reply)"] = Counter(made)
    made.clear()
    apply_key(incoming_key(posted.event))
    counts["post: the worker's apply"] = Counter(made)
    riak_store.request = real
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events of the generated log to rehydrate")
    parser.add_argument("--serve-nodes", type=int, default=3, choices=[1, 3], help="the cluster serving is measured on")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the serving figures")
    parser.add_argument("--skip-rehydrate", action="store_true")
    parser.add_argument("--skip-serve", action="store_true", help="only the rehydrate, on a 1-node cluster")
    parser.add_argument("--phase", choices=["restore", "puts"])
    parser.add_argument("--dir")
    parser.add_argument("--store")
    parser.add_argument("--sqlite")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.phase:
        from bench.rehydrate import setup_django

        setup_django(tempfile.mkdtemp(prefix="utakata-bench-"))
        if args.phase == "restore":
            result = restore_phase(args.dir, args.store, args.workers)
        else:
            result = puts_phase(args.sqlite, args.store, args.workers)
        print(json.dumps(result))
        return 0

    from bench.common import note, report

    started = time.perf_counter()
    sizes = [args.serve_nodes] if args.skip_rehydrate else [1] if args.skip_serve else [1, 3]
    served, counts = [], {}
    with tempfile.TemporaryDirectory(prefix="utakata-bench-riak-") as scratch, clusters(sizes) as made:
        note(f"started Riak clusters of {', '.join(map(str, sizes))} nodes in {time.perf_counter() - started:.0f}s")
        figures = [] if args.skip_rehydrate else rehydrate_part(made, Path(scratch), args.events)
        if not args.skip_serve:
            served, counts = serve_part(made[args.serve_nodes], Path(scratch), args.rounds)
    for name, ops, base in figures + served:
        report(name, ops, base)
    if counts:
        note(
            f"Riak requests per read on the {args.serve_nodes}-node cluster (warm: the board's settings "
            "and the process's reads kept, checked against the change tokens in Redis):"
        )
    for name, counted in counts.items():
        detail = ", ".join(f"{m} {c}" for m, c in sorted(counted.items()))
        note(f"  {name}: {sum(counted.values())} ({detail})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
