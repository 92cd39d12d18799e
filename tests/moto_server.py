"""moto's S3, served as an S3 serves: ``python tests/moto_server.py -H HOST -p PORT``.

moto's own server is werkzeug's development server, which S3 clients pay for
on every request:

- It closes every connection after one response (werkzeug sends
  ``Connection: close`` always), so each request is a new TCP connection for
  the client and a new thread for the server. 300 PUTs from one boto3 client
  made 300 connections.
- It writes a response's headers and its body in two sends with Nagle's
  algorithm on: the body waits for the client to acknowledge the headers,
  and a client whose kernel delays that acknowledgement waits 10 ms more.
  In rounds of 300 PUTs of 700 bytes from a thread pool, as the log's commits
  are sent, 4–31% of them took the 10 ms more.

S3, Ceph RGW and MinIO keep connections open and do not stall like that. So
moto's application runs here in gunicorn (a gthread worker, connections kept
open, TCP_NODELAY on them): what the tests and the benchmarks mean to talk to.
One worker process, since moto keeps its buckets in the process's memory.
"""

from __future__ import annotations

import argparse
import os

from gunicorn.app.base import BaseApplication

THREADS = 32  # concurrent requests: two web workers' commit pools and then some
KEEPALIVE = 60  # seconds an idle connection stays open (boto3 keeps its pool's)


class MotoS3(BaseApplication):
    """moto's application (every service, chosen by each request) in a gunicorn of its own."""

    def __init__(self, host: str, port: int) -> None:
        self.bind = f"{host}:{port}"
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": [self.bind],
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "keepalive": KEEPALIVE,
            "graceful_timeout": 2,  # stopped by the tests: kept-open connections need not be waited for
            "limit_request_line": 8190,  # S3 keys of 1,024 bytes, percent-encoded, and a query
            "accesslog": None,
            "loglevel": "warning",
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        return DomainDispatcherApplication(create_backend_app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own server sets it (URLs moto makes)
    MotoS3(args.host, args.port).run()


if __name__ == "__main__":
    main()
