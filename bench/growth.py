"""Growth: does serving a board cost more as it ages? Pages, subject.txt and posting at 100 to 10,000 threads.

One store per size, each holding one board /test/ on which N threads were
ever made (one a second, 1 to 20 posts each, the newest four with 10, 100,
500 and 1000 posts), the oldest falling into the archive past the thread cap
(500: a ThreadArchived per fallen thread, as archive_overflow commits them).
The stores are seeded directly (BatchApplier, as rehydrate folds events)
before the servers start. Each size has its own gunicorn (production config,
2 workers x 4 threads, bench/settings.py) with the log on a moto S3 server
and Redis for the cache and the broker (no worker runs: posting measures the
request, which applies nothing). The servers run side by side and every
figure is measured in rounds that take each cell of a row in turn (medians
kept), so a row is compared under one machine load.

Printed, each as ``name: X ops/s, baseline Y ops/s, ratio Z``:

- goals: ``board_top_10000_vs_100`` and ``bbsmenu_10000_vs_100`` (the page at
  10,000 threads ever against the same page at 100; goal: within 1.2x, a ratio
  >= 0.83), ``subject_vs_same_bytes_<N>`` (subject.txt against the bench view
  returning as many bytes, no gzip on either side; goal >= 0.5), and
  ``subject_gzip_vs_same_bytes_<N>`` for the largest N (gzip asked, as 2ch
  clients do); with ab (apache2-utils) installed, ``*_ab`` lines measure the
  board top and subject.txt comparisons again with it, a C client (keep-alive,
  8 connections), since the Python clients share the two cores;
- the growth table, one line per cell with the row's first column as its
  baseline: ``growth_thread_page_res<R>``, ``growth_board_top_<N>``,
  ``growth_subject_<N>``, ``growth_posting_<N>`` (and posting against bare
  S3 puts, as bench.posting measures it);
- memory: ``worker_peak_rss_<N>``, the largest peak RSS (VmHWM) of that
  server's workers after the whole run against the worker's RSS once
  started and answering one request (goal <= 1.5).

    .venv/bin/python -m bench.growth [--threads 100,1000,10000] [--res 10,100,500,1000] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import requests

from bench.common import (
    IDENTITY,
    ab_compare,
    apply_events,
    board_events,
    compare_many,
    get_loop,
    have_ab,
    memory_mb,
    note,
    report,
    report_ab,
    same_bytes_url,
)
from bench.posting import bare_puts, replies
from tests import processes, services

CLIENTS = 4
CAP = 500
THREADS = [100, 1000, 10000]
RES = [10, 100, 500, 1000]


def seed(path: Path, threads: int, res_sizes: list[int], end: int) -> tuple[int, list[int]]:
    """Seed a store at path with /test/ of ``threads`` threads ever, the last made at second end - 1.

    Returns (events, the big threads' keys): the same on every board.
    """
    from board.readmodel import queries
    from board.store.sqlite import SQLiteStore

    first = end - threads
    big = len(res_sizes)

    def res(i: int) -> int:
        return res_sizes[i - (threads - big)] if i >= threads - big else 1 + (i * 7) % 20

    store = SQLiteStore(str(path))
    try:
        count = apply_events(store, board_events("test", threads, CAP, first, res))
        listed = queries.live_list(store, "test").live
    finally:
        store.close()
    if listed != min(threads, CAP):
        raise RuntimeError(f"the seeded board lists {listed} live threads, not {min(threads, CAP)}")
    return count, [first + threads - big + j for j in range(big)]


def worker_peaks(webs: dict) -> dict[int, float]:
    """The largest VmHWM (MB) of each server's workers so far."""
    return {size: max(memory_mb(pid)["VmHWM"] for pid in web.worker_pids()) for size, web in webs.items()}


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default=",".join(map(str, THREADS)), help="threads ever per board, smallest first")
    parser.add_argument("--res", default=",".join(map(str, RES)), help="posts of the thread pages, smallest first")
    parser.add_argument("--scale", type=float, default=1.0, help="scales the number of requests of every figure")
    args = parser.parse_args()
    sizes = [int(n) for n in args.threads.split(",")]
    res_sizes = [int(n) for n in args.res.split(",")]
    if len(sizes) < 2 or sizes[0] > min(sizes[1:]) or len(res_sizes) < 1:
        raise SystemExit("--threads needs at least two sizes, the smallest first")

    def n(count: int) -> int:
        return max(CLIENTS * 5, int(count * args.scale))

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    root = Path(tempfile.mkdtemp(prefix="utakata-bench-growth-"))
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(services.redis_server())
        endpoint = stack.enter_context(services.s3_server())
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        envs, keys = {}, []
        for i, size in enumerate(sizes):
            data = root / f"t{size}"
            (data / "static").mkdir(parents=True)  # STATIC_ROOT, or WhiteNoise warns
            envs[size] = services.project_env(
                DJANGO_SETTINGS_MODULE="bench.settings",
                UTAKATA_DATA_DIR=str(data),
                UTAKATA_DEBUG="0",
                UTAKATA_SECRET_KEY="bench",
                UTAKATA_LOG_LEVEL="WARNING",
                # A Redis database and a log prefix per server: each has a board /test/ of its own.
                REDIS_URL=redis_url.rsplit("/", 1)[0] + f"/{i + 1}",
                UTAKATA_LOG_URL=f"s3://{bucket}/t{size}",
                UTAKATA_S3_ENDPOINT_URL=endpoint,
                UTAKATA_STORE_URL=f"sqlite://{data}/store.sqlite3",
            )
        setup_django(envs[sizes[0]])
        end = int(time.time()) - 3600  # keys in the past: threads posted during the run never collide
        for size in sizes:
            started = time.perf_counter()
            events, keys = seed(root / f"t{size}" / "store.sqlite3", size, res_sizes, end)
            note(
                f"seeded /test/ with {size:,} threads ever ({events:,} events) in {time.perf_counter() - started:.1f}s"
            )
        webs = {size: stack.enter_context(processes.gunicorn(envs[size], log_dir=root)) for size in sizes}
        for web in webs.values():
            requests.get(f"{web.url}/test/", timeout=60).raise_for_status()
        idle = {size: {pid: memory_mb(pid)["VmRSS"] for pid in web.worker_pids()} for size, web in webs.items()}
        small, large = sizes[0], sizes[-1]

        # Thread pages, on the smallest board (every board has the same four).
        base = webs[small].url
        pages = [f"{base}/test/read.cgi/test/{key}/" for key in keys]
        page_sizes = [len(requests.get(url, timeout=60).content) for url in pages]
        note(
            "thread pages of "
            + ", ".join(f"{r} res ({s // 1024} KiB)" for r, s in zip(res_sizes, page_sizes, strict=True))
            + f" from {CLIENTS} HTTP clients; each server gunicorn 2 workers x 4 threads, SQLite store"
        )
        totals = [n(max(200, 1500 * res_sizes[0] // max(r, 1))) for r in res_sizes]
        thread_rates = compare_many(
            [get_loop(url, contains=f'id="{r}"'.encode()) for url, r in zip(pages, res_sizes, strict=True)], totals
        )
        phases = [("thread pages", worker_peaks(webs))]

        # Board tops and bbsmenu, and subject.txt against the same bytes.
        tops = [get_loop(f"{webs[s].url}/test/", contains=b"thread-menu") for s in sizes]
        menus = [get_loop(f"{webs[s].url}/bbsmenu.html", contains=b"/test/") for s in (small, large)]
        top_sizes = [len(requests.get(f"{webs[s].url}/test/", timeout=60).content) for s in sizes]
        note(
            "board tops: "
            + ", ".join(f"{s:,} threads ever {b // 1024} KiB" for s, b in zip(sizes, top_sizes, strict=True))
            + f"; cap {CAP} live threads, the menu shows 50 and 10 digests"
        )
        top_rates = compare_many(tops + menus, [n(1000)] * (len(tops) + len(menus)))
        phases.append(("board tops", worker_peaks(webs)))
        subject_sizes = []
        subject_makers = []
        for s in sizes:
            url = f"{webs[s].url}/test/subject.txt"
            size = len(requests.get(url, headers=IDENTITY, timeout=60).content)
            subject_sizes.append(size)
            subject_makers.append(get_loop(url, length=size, headers=IDENTITY))
            subject_makers.append(get_loop(same_bytes_url(webs[s].url, size, "txt"), length=size))
        gzip_url = f"{webs[large].url}/test/subject.txt"
        subject_makers.append(get_loop(gzip_url, length=subject_sizes[-1], headers={"Accept-Encoding": "gzip"}))
        note(
            "subject.txt: "
            + ", ".join(f"{s:,} threads ever {b:,} bytes" for s, b in zip(sizes, subject_sizes, strict=True))
            + " (no gzip); baseline the bench view returning as many bytes, text/plain, same server"
        )
        subject_rates = compare_many(subject_makers, [n(1500)] * len(subject_makers))
        phases.append(("subject.txt", worker_peaks(webs)))
        with_ab = []  # the goals again, with ab: the Python clients share the two cores with the servers
        if have_ab():
            top = f"{webs[small].url}/test/", f"{webs[large].url}/test/"
            with_ab.append(
                (f"board_top_{large}_vs_{small}_ab", *ab_compare((top[1], {}, True), (top[0], {}, True), n(2000)))
            )
            for s, size in zip(sizes, subject_sizes, strict=True):
                subject = (f"{webs[s].url}/test/subject.txt", IDENTITY, True)
                same = (same_bytes_url(webs[s].url, size, "txt"), {}, True)
                with_ab.append((f"subject_vs_same_bytes_{s}_ab", *ab_compare(subject, same, n(5000))))

        # Posting: replies through the HTML form, each client to a thread of its own, on each board.
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        replies(webs[small].url)()  # one post, to learn the size of an event in the log
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"t{small}/incoming/posts/", MaxKeys=1)
        puts = bare_puts(endpoint, bucket, listed["Contents"][0]["Size"] if listed.get("KeyCount") else 600)
        note(
            f"posting: replies through the HTML form from {CLIENTS} clients, each to a thread of its own, "
            "S3 log on moto, Redis, no worker; baseline bare boto3 put_object (as bench.posting)"
        )
        post_rates = compare_many([replies(webs[s].url) for s in sizes] + [puts], [n(600)] * len(sizes) + [n(1000)])
        phases.append(("posting", worker_peaks(webs)))
        peak = {size: {pid: memory_mb(pid)["VmHWM"] for pid in web.worker_pids()} for size, web in webs.items()}
        now = {size: {pid: memory_mb(pid) for pid in web.worker_pids()} for size, web in webs.items()}

    shutil.rmtree(root)  # kept only when something failed: it holds the servers' logs
    report(f"board_top_{large}_vs_{small}", top_rates[len(sizes) - 1], top_rates[0])
    report(f"bbsmenu_{large}_vs_{small}", top_rates[-1], top_rates[-2])
    for i, s in enumerate(sizes):
        report(f"subject_vs_same_bytes_{s}", subject_rates[2 * i], subject_rates[2 * i + 1])
    report(f"subject_gzip_vs_same_bytes_{large}", subject_rates[-1], subject_rates[-2])
    report_ab(with_ab)
    note("growth table: each cell against its row's first column")
    for r, rate in zip(res_sizes, thread_rates, strict=True):
        report(f"growth_thread_page_res{r}", rate, thread_rates[0])
    for i, s in enumerate(sizes):
        report(f"growth_board_top_{s}", top_rates[i], top_rates[0])
    for i, s in enumerate(sizes):
        report(f"growth_subject_{s}", subject_rates[2 * i], subject_rates[0])
    for i, s in enumerate(sizes):
        report(f"growth_posting_{s}", post_rates[i], post_rates[0])
    for i, s in enumerate(sizes):
        report(f"posting_{s}_vs_bare_puts", post_rates[i], post_rates[-1])
    note("worker memory: peak RSS (VmHWM) after the run against RSS once started and answering one request")
    for phase, peaks in phases:
        note(f"largest worker peak RSS after {phase}: " + ", ".join(f"{s:,}: {peaks[s]:.0f} MB" for s in sizes))
    for s in sizes:
        rows = ", ".join(
            f"pid {pid} RSS {m['VmRSS']:.0f} MB (anon {m['RssAnon']:.0f}, file {m['RssFile']:.0f})"
            for pid, m in now[s].items()
        )
        note(f"workers of the {s:,} server at the end: {rows}")
    for s in sizes:
        pid = max(peak[s], key=lambda p: peak[s][p] / idle[s].get(p, peak[s][p]))
        report(f"worker_peak_rss_{s}", peak[s][pid], idle[s].get(pid, peak[s][pid]), unit="MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
