"""An HTTP proxy in front of an S3 endpoint that misbehaves on command.

What sits between the board and its S3 in production (a load balancer, a
gateway) and what an endpoint does when it is in trouble:

- ``pass``: every request goes through (optionally without some headers,
  as a gateway that does not know them drops them), after ``latency``
  seconds (0 unless set: an endpoint as far away as S3 in a region);
- ``hang``: a request is read and never answered until the mode changes,
  then its connection is closed (an endpoint that accepts and stalls);
- ``fail``: every request is answered at once with 503 SlowDown (an
  endpoint that sheds load).

It runs on threads in the caller's process, on a free loopback port::

    with FaultProxy(endpoint) as proxy:
        env = ...(UTAKATA_S3_ENDPOINT_URL=proxy.url)
        proxy.mode = "hang"
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODES = ("pass", "hang", "fail")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding"}
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


class FaultProxy:
    """A forwarding proxy to upstream whose ``mode`` (pass, hang, fail) can be changed at any time."""

    def __init__(self, upstream: str, drop: tuple[str, ...] = ()) -> None:
        self.upstream = urlsplit(upstream)
        self.dropped = {name.lower() for name in drop} | HOP_BY_HOP
        self.requests: Counter[str] = Counter()  # requests seen, by the mode they met
        self._mode = "pass"
        self.latency = 0.0  # seconds each passing request waits before it is forwarded
        self._changed = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r} (known: {', '.join(MODES)})")
        with self._changed:
            self._mode = mode
            self._changed.notify_all()  # hung requests end now

    def hold(self) -> None:
        """Block while the mode is hang (a hung request's thread waits here)."""
        with self._changed:
            self._changed.wait_for(lambda: self._mode != "hang")

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.mode = "pass"
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up on a hung request, or a killed worker's connection: not news


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A response's headers and body are two sends: without this the body waits on the
        # client's delayed acknowledgement of the headers (tests/moto_server.py).
        disable_nagle_algorithm = True
        upstream: http.client.HTTPConnection | None = None  # one per client connection, kept alive

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            mode = proxy.mode
            proxy.requests[mode] += 1
            if mode == "hang":
                proxy.hold()
                self.close_connection = True  # never answered: the client has given up by now
                return
            if mode == "fail":
                self.send_response(503, "Slow Down")
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOW_DOWN)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(SLOW_DOWN)
                return
            if proxy.latency:
                time.sleep(proxy.latency)
            self.relay(body)

        def relay(self, body: bytes | None) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy.dropped}
            reused = self.upstream is not None
            try:
                answer = self._request(body, headers)
            except (OSError, http.client.HTTPException):
                self._close_upstream()
                if not reused:
                    raise
                answer = self._request(body, headers)  # a kept-alive connection the upstream had closed
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            head = self.command == "HEAD"  # its Content-Length is the object's, with no body
            for name, value in answer.getheaders():
                lowered = name.lower()
                if lowered not in {"transfer-encoding", "connection"} and (head or lowered != "content-length"):
                    self.send_header(name, value)
            if not head:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _request(self, body: bytes | None, headers: dict[str, str]) -> http.client.HTTPResponse:
            if self.upstream is None:
                target = proxy.upstream
                self.upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            self.upstream.request(self.command, self.path, body=body, headers=headers)
            return self.upstream.getresponse()

        def _close_upstream(self) -> None:
            if self.upstream is not None:
                self.upstream.close()
                self.upstream = None

        def finish(self) -> None:
            self._close_upstream()
            super().finish()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        def log_message(self, *args) -> None:
            pass

    return Handler
