"""Reading: a 1000-res thread page, requests/s against a minimal Django view on the same server.

The server is gunicorn with the production config (2 workers x 4 threads,
gthread) on the embedded backends (SQLite store, file log), DEBUG off, with
bench/settings.py adding one view (bench/urls.py) that returns "ok" through
the same middleware. The thread is seeded here through the real write path
(submit, then the same apply the workers run) before the server starts.
"""

from __future__ import annotations

import re
import sys
import tempfile

import requests

from bench.common import bench_env, compare, note, report, seed_thread
from tests import processes

CLIENTS = 4
PAGES = 200
MINIMAL = 2000
RES = 1000


def seed(env: dict[str, str]) -> str:
    """Create /test/ and a thread of RES posts in this process; return the thread key."""
    return seed_thread(env, RES, "1000まで")


def get_loop(url: str, check: str):
    def make_op():
        session = requests.Session()

        def op() -> None:
            response = session.get(url, timeout=60)
            if response.status_code != 200 or check not in response.text:
                raise RuntimeError(f"GET {url}: HTTP {response.status_code}")

        return op

    return make_op


def main() -> int:
    data = tempfile.mkdtemp(prefix="utakata-bench-reading-")
    env = bench_env(data, DJANGO_SETTINGS_MODULE="bench.settings")
    key = seed(env)
    with processes.gunicorn(env, workers=2, threads=4, log_dir=data) as web:
        page = f"{web.url}/test/read.cgi/test/{key}/"
        html = requests.get(page, timeout=60).text
        shown = re.findall(r'data-number="(\d+)"', html)
        if shown != [str(n) for n in range(1, RES + 1)]:
            raise RuntimeError(f"the thread page shows {len(shown)} posts, not 1..{RES}")
        note(
            f"reading: {PAGES} GETs of a {RES}-res thread page ({len(html.encode()) // 1024} KiB) from {CLIENTS} "
            f"HTTP clients; gunicorn 2 workers x 4 threads; SQLite store; baseline {MINIMAL} GETs of a minimal view"
        )
        thread, minimal = compare(
            get_loop(page, f'id="{RES}"'), get_loop(f"{web.url}/bench/minimal", "ok"), PAGES, MINIMAL, CLIENTS
        )
    report("reading", thread, minimal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
