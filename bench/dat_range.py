"""Dat differential fetching: Range requests/s on a 1000-res dat, against the full dat and a static file.

A 2ch client polls a thread it follows with ``Range: bytes=<size - 1>-``:
the figure of record is how many of those the board answers per second,
compared in the same run, on the same server (gunicorn, production config,
SQLite store, DEBUG off) with:

- ``dat_range``: the same dat fetched whole (what a Range saves);
- ``dat_range_vs_static``: the same bytes as a static file served by
  WhiteNoise from the same server, fetched whole (what a file server does);
- ``dat_range_vs_static_range``: a Range asked of both. This one asks for
  the last *two* bytes of each: WhiteNoise (6.12) answers 416 to a range of
  only the last byte (it tests ``start >= end``), the very request JDim makes;
- ``dat_range_vs_minimal``: the Range poll against the minimal Django view
  (bench/urls.py) on the same server (goal >= 0.8): what answering from the
  store costs beyond Django itself. The last byte of a 1000-res dat is in its
  stop line, which the thread object describes: no posts page is read. So
  ``dat_range_live_vs_minimal`` polls a live 999-res thread (seeded into the
  same store directly), whose last byte is in its last posts page;
- ``dat_304_ims_vs_minimal`` and ``dat_304_inm_vs_minimal``: a 304 to
  If-Modified-Since (a date after the last post: the Last-Modified just
  handed out is the post's own second until it settles, see conditional.py)
  and to If-None-Match (the ETag), against the minimal view (goal >= 0.8).

The Python clients share the two cores with the server and spend about as
much CPU per request as these light views, which squeezes those ratios
towards 1; where ab (apache2-utils) is installed, the ``*_ab`` lines measure
the same comparisons with it (keep-alive, 8 connections).

The thread is seeded through the real write path (submit, then the apply the
workers run) before the server starts; the static copy is written from the
dat the server then serves, so the bytes are identical.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import requests
from django.utils.http import http_date

from bench.common import (
    ab_compare,
    apply_events,
    bench_env,
    compare,
    get_loop,
    have_ab,
    note,
    report,
    report_ab,
    seed_thread,
    thread_events,
)
from tests import processes

CLIENTS = 4
RES = 1000
RANGES = 3000
FULLS = 600
STATICS = 3000
MINIMALS = 3000
AB_REQUESTS = 5000  # per round and side


def seed(env: dict[str, str]) -> str:
    """Create /test/ and a thread of RES posts in this process; return the thread key."""
    return seed_thread(env, RES, "差分取得")


def main() -> int:
    data = tempfile.mkdtemp(prefix="utakata-bench-dat-")
    env = bench_env(data, DJANGO_SETTINGS_MODULE="bench.settings")
    key = seed(env)
    # The dat's bytes, read from the store the server will read, become the static file.
    from board.store import get_store
    from board.twoch import datfile

    store = get_store()
    dat = datfile.read(store, datfile.open_dat(store, "test", key))[1]
    live_key = str(int(key) - 3600)  # a live thread of RES - 1 posts, an hour older
    apply_events(store, thread_events("test", int(live_key), RES - 1, "差分取得 (続)"))
    live_size = datfile.open_dat(store, "test", live_key).size
    store.close()
    static = Path(data) / "static" / "bench" / f"{key}.dat"
    static.parent.mkdir(parents=True, exist_ok=True)
    static.write_bytes(dat)  # before gunicorn starts: WhiteNoise indexes STATIC_ROOT when a worker starts

    with processes.gunicorn(env, workers=2, threads=4, log_dir=data) as web:
        dat_url, static_url = f"{web.url}/test/dat/{key}.dat", f"{web.url}/static/bench/{key}.dat"
        served = requests.get(dat_url, timeout=60).content
        if served != dat or requests.get(static_url, timeout=60).content != dat:
            raise RuntimeError("the server's dat and the static copy differ")
        tail = {"Range": f"bytes={len(dat) - 1}-"}
        ranges = get_loop(dat_url, 206, 1, headers=tail)
        note(
            f"dat_range: Range bytes=<size-1>- of a {RES}-res dat ({len(dat) // 1024} KiB) from {CLIENTS} HTTP "
            "clients; gunicorn 2 workers x 4 threads; SQLite store; static copy served by WhiteNoise"
        )
        vs_full = compare(ranges, get_loop(dat_url, 200, len(dat)), RANGES, FULLS, CLIENTS)
        vs_static = compare(ranges, get_loop(static_url, 200, len(dat)), RANGES, STATICS, CLIENTS)
        two = {"Range": f"bytes={len(dat) - 2}-"}
        vs_static_range = compare(
            get_loop(dat_url, 206, 2, headers=two), get_loop(static_url, 206, 2, headers=two), RANGES, STATICS
        )
        minimal = get_loop(f"{web.url}/bench/minimal", 200, 2)
        vs_minimal = compare(ranges, minimal, RANGES, MINIMALS, CLIENTS)
        etag = requests.get(dat_url, timeout=60).headers["ETag"]
        ims = {"If-Modified-Since": http_date(time.time())}
        ims_304 = compare(get_loop(dat_url, 304, 0, headers=ims), minimal, RANGES, MINIMALS, CLIENTS)
        inm = {"If-None-Match": etag}
        inm_304 = compare(get_loop(dat_url, 304, 0, headers=inm), minimal, RANGES, MINIMALS, CLIENTS)
        live_tail = {"Range": f"bytes={live_size - 1}-"}
        live = get_loop(f"{web.url}/test/dat/{live_key}.dat", 206, 1, headers=live_tail)
        live_vs_minimal = compare(live, minimal, RANGES, MINIMALS, CLIENTS)
        with_ab = []
        if have_ab():
            base = (f"{web.url}/bench/minimal", {}, True)
            for name, url, headers, ok in (
                ("dat_range_vs_minimal_ab", dat_url, tail, True),
                ("dat_range_live_vs_minimal_ab", f"{web.url}/test/dat/{live_key}.dat", live_tail, True),
                ("dat_304_ims_vs_minimal_ab", dat_url, ims, False),
                ("dat_304_inm_vs_minimal_ab", dat_url, inm, False),
            ):
                with_ab.append((name, *ab_compare((url, headers, ok), base, AB_REQUESTS)))
    report("dat_range", *vs_full)
    report("dat_range_vs_static", *vs_static)
    report("dat_range_vs_static_range", *vs_static_range)
    report("dat_range_vs_minimal", *vs_minimal)
    report("dat_range_live_vs_minimal", *live_vs_minimal)
    report("dat_304_ims_vs_minimal", *ims_304)
    report("dat_304_inm_vs_minimal", *inm_304)
    report_ab(with_ab)
    return 0


if __name__ == "__main__":
    sys.exit(main())
