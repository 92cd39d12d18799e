"""Proxy cache: dat Range polls/s through nginx with a 1-second proxy_cache in front of gunicorn.

The nginx configuration is the deploy's dat location (deploy/nginx.conf:
``proxy_cache_valid 200 206 304 1s``, Range and validators passed to the app
and part of the cache key, ``proxy_cache_lock``), written to a temporary
folder with one upstream: the gunicorn started here (production config,
2 workers x 4 threads, SQLite store, a 1000-res thread seeded through the
real write path). nginx runs one worker process. The load is ``ab``
(apache2-utils, keep-alive, 8 concurrent connections): a C client, because
the Python clients of the other benchmarks cannot keep nginx busy. Figures,
medians of rounds that alternate the two sides:

- ``proxy_cache_dat_range_vs_static``: ``Range: bytes=<size-1>-`` of the dat
  through the proxy cache, against nginx serving the same bytes as a static
  file (the same Range);
- ``proxy_cache_dat_range_vs_gunicorn``: the same poll through the proxy
  cache, against gunicorn answering it directly (what the cache buys).

Skipped, with a note, where nginx or ab is not installed
(``apt-get install nginx-light apache2-utils``).

    .venv/bin/python -m bench.proxy_cache [--requests 20000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from bench.common import ab_compare, bench_env, note, report, seed_thread
from tests import processes, services

RES = 1000
REQUESTS = 20000
CONCURRENCY = 8  # ab's connections (bench.common.ab_rate)
ROUNDS = 5

CONFIG = """
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;

    upstream utakata_web {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    proxy_cache_path {root}/cache levels=1:2 keys_zone=utakata_2ch:10m max_size=256m inactive=60s use_temp_path=off;

    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;

        # As deploy/nginx.conf's location for dat, subject.txt and SETTING.TXT.
        location ~ ^/[a-z0-9_]+/(dat/[0-9]+\\.dat|subject\\.txt|SETTING\\.TXT)$ {{
            proxy_pass http://utakata_web;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_cache utakata_2ch;
            proxy_cache_valid 200 206 304 1s;
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 2s;
            proxy_set_header Range $http_range;
            proxy_set_header If-Range $http_if_range;
            proxy_set_header If-Modified-Since $http_if_modified_since;
            proxy_set_header If-None-Match $http_if_none_match;
            proxy_cache_key "$scheme|$host|$request_uri|$http_range|$http_if_range|$http_if_modified_since|$http_if_none_match";
            if_modified_since off;
            max_ranges 0;
            proxy_cache_bypass $cookie_utakata_posted;
            proxy_no_cache $cookie_utakata_posted;
            add_header X-Cache-Status $upstream_cache_status always;
        }}

        # The baseline: the same bytes as a file.
        location /static/ {{
            root {root}/www;
        }}
    }}
}}
"""  # noqa: E501 - the deploy's cache key, on one line as nginx wants it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    missing = [tool for tool in ("nginx", "ab") if shutil.which(tool) is None]
    if missing:
        note(f"proxy_cache skipped: {' and '.join(missing)} not installed (apt-get install nginx-light apache2-utils)")
        return 0
    root = Path(tempfile.mkdtemp(prefix="utakata-bench-proxy-"))
    env = bench_env(str(root / "data"))
    key = seed_thread(env, RES, "キャッシュ")
    with processes.gunicorn(env, workers=2, threads=4, log_dir=root) as web:
        direct = f"{web.url}/test/dat/{key}.dat"
        dat = requests.get(direct, headers={"Accept-Encoding": "identity"}, timeout=60).content
        www = root / "www" / "static"
        www.mkdir(parents=True)
        (www / f"{key}.dat").write_bytes(dat)
        for folder in ("tmp", "cache"):
            (root / folder).mkdir()
        port = services.free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(CONFIG.format(root=root, upstream=web.port, port=port, user=user))
        nginx = subprocess.Popen(
            ["nginx", "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            services.wait_for_port(port)
            proxied, static = f"http://127.0.0.1:{port}/test/dat/{key}.dat", f"http://127.0.0.1:{port}/static/{key}.dat"
            tail = {"Range": f"bytes={len(dat) - 1}-"}
            for url in (proxied, static, direct):
                got = requests.get(url, headers={**tail, "Accept-Encoding": "identity"}, timeout=60)
                if got.status_code != 206 or got.content != dat[-1:]:
                    raise RuntimeError(f"{url}: HTTP {got.status_code} {got.content[:100]!r}")
            # As ab asks (no Accept-Encoding: the app's Vary keeps a copy per encoding): MISS, then HIT.
            plain = {**tail, "Accept-Encoding": None}
            cache = [requests.get(proxied, headers=plain, timeout=60).headers.get("X-Cache-Status") for _ in range(2)]
            note(
                f"proxy_cache: Range bytes=<size-1>- of a {RES}-res dat ({len(dat) // 1024} KiB), {args.requests} "
                f"requests per round from ab -k -c {CONCURRENCY}; nginx {nginx_version()} (1 worker) with the deploy's "
                f"1 s proxy_cache (X-Cache-Status {' then '.join(cache)}) in front of gunicorn 2 workers x 4 threads"
            )
            vs_static = ab_compare((proxied, tail, True), (static, tail, True), args.requests, args.rounds)
            vs_direct = ab_compare((proxied, tail, True), (direct, tail, True), args.requests, args.rounds)
        finally:
            nginx.terminate()
            nginx.wait(10)
            print(f"--- nginx error log ---\n{(root / 'error.log').read_text()}" if nginx.returncode else "", end="")
    report("proxy_cache_dat_range_vs_static", *vs_static)
    report("proxy_cache_dat_range_vs_gunicorn", *vs_direct)
    return 0


def nginx_version() -> str:
    done = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    return done.stderr.strip().rpartition("/")[2]


if __name__ == "__main__":
    sys.exit(main())
