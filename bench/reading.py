"""Reading: thread pages, requests/s against views on the same server returning as many bytes, and "ok".

The server is gunicorn with the production config (2 workers x 4 threads,
gthread) on the embedded backends (SQLite store, file log), DEBUG off, with
bench/settings.py adding the baselines' views (bench/urls.py). The thread is
seeded here through the real write path (submit, then the same apply the
workers run) before the server starts. Figures, each against a baseline
measured alternately in the same run:

- ``reading_vs_same_bytes``: the whole 1000-res page against a view returning
  the same number of bytes held in memory (goal >= 0.5): what the page costs
  beyond sending its bytes;
- ``reading_l50_vs_same_bytes``: ``l50`` of the same thread against the view
  returning l50's size (goal >= 0.8);
- ``reading``: the whole page against the minimal view ("ok");
- ``reading_vs_same_bytes_ab`` and ``reading_l50_vs_same_bytes_ab``: the
  first two measured with ab (apache2-utils, keep-alive, 8 connections) where
  it is installed: the Python clients share the two cores with the server.

    .venv/bin/python -m bench.reading [--res 1000] [--pages 200]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile

import requests

from bench.common import (
    ab_compare,
    bench_env,
    compare,
    get_loop,
    have_ab,
    note,
    report,
    report_ab,
    same_bytes_url,
    seed_thread,
)
from tests import processes

CLIENTS = 4
PAGES = 200
MINIMAL = 2000
RES = 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--res", type=int, default=RES, help="posts in the thread")
    parser.add_argument("--pages", type=int, default=PAGES, help="GETs of the whole page (others scale with it)")
    args = parser.parse_args()
    res, pages = args.res, args.pages
    data = tempfile.mkdtemp(prefix="utakata-bench-reading-")
    env = bench_env(data, DJANGO_SETTINGS_MODULE="bench.settings")
    key = seed_thread(env, res, f"{res}まで")
    with processes.gunicorn(env, workers=2, threads=4, log_dir=data) as web:
        page, l50 = f"{web.url}/test/read.cgi/test/{key}/", f"{web.url}/test/read.cgi/test/{key}/l50"
        html = requests.get(page, timeout=60).content
        shown = re.findall(rb'data-number="(\d+)"', html)
        if shown != [str(n).encode() for n in range(1, res + 1)]:
            raise RuntimeError(f"the thread page shows {len(shown)} posts, not 1..{res}")
        l50_size = len(requests.get(l50, timeout=60).content)
        last = f'id="{res}"'.encode()
        note(
            f"reading: GETs of a {res}-res thread page ({len(html) // 1024} KiB) and of its l50 ({l50_size // 1024} "
            f"KiB) from {CLIENTS} HTTP clients; gunicorn 2 workers x 4 threads; SQLite store; baselines: bench views "
            "returning as many bytes held in memory (text/html), and a minimal view"
        )
        whole = get_loop(page, contains=last)
        vs_bytes = compare(whole, get_loop(same_bytes_url(web.url, len(html)), length=len(html)), pages, pages)
        vs_bytes_l50 = compare(
            get_loop(l50, contains=last),
            get_loop(same_bytes_url(web.url, l50_size), length=l50_size),
            pages * 5,
            pages * 5,
        )
        vs_minimal = compare(whole, get_loop(f"{web.url}/bench/minimal", contains=b"ok"), pages, pages * 10, CLIENTS)
        with_ab = []
        if have_ab():
            for name, url, size, total in (
                ("reading_vs_same_bytes_ab", page, len(html), pages * 2),
                ("reading_l50_vs_same_bytes_ab", l50, l50_size, pages * 10),
            ):
                rates = ab_compare((url, {}, True), (same_bytes_url(web.url, size), {}, True), total)
                with_ab.append((name, *rates))
    report("reading_vs_same_bytes", *vs_bytes)
    report("reading_l50_vs_same_bytes", *vs_bytes_l50)
    report("reading", *vs_minimal)
    report_ab(with_ab)
    return 0


if __name__ == "__main__":
    sys.exit(main())
