"""deploy/nginx.conf, run by a real nginx in front of two stand-in web containers.

The stand-ins answer like the board's dat view (validators, Range, Vary,
Cache-Control: no-cache) and record what reached them, so each test reads as
"what does the proxy send on, and what does it answer from its cache". The
config is used as compose mounts it; only the upstream addresses, the listen
port and the cache directory are rewritten to this machine's.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from board.web import errors

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "deploy" / "nginx.conf"
DAT = "".join(f"名無しさん<><>2026/01/01(木) 00:00:{i:02d}.00 ID:abc<> レス{i} <>\n" for i in range(20)).encode("cp932")
LAST_MODIFIED = "Thu, 01 Jan 2026 00:00:19 GMT"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn(ThreadingHTTPServer):
    """A web container: a dat/subject.txt view that honours Range, and a page for everything else."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.name = name
        self.seen: list[tuple[str, str, dict[str, str]]] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer()

    def answer(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        headers = {"X-Served-By": self.server.name, "Content-Type": "text/plain; charset=Shift_JIS"}
        status, body = 200, DAT
        if self.path.startswith("/busy/"):  # the app's own 503, with its own words
            status, body = 503, "混雑しています".encode()
        if re.search(r"/(dat/\d+\.dat|subject\.txt|SETTING\.TXT)$", self.path):
            headers |= {
                "ETag": '"v1"',
                "Last-Modified": LAST_MODIFIED,
                "Cache-Control": "no-cache",
                "Vary": "Accept-Encoding",
                "Accept-Ranges": "bytes",
            }
            m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if m:
                start = int(m[1])
                status, body = 206, DAT[start:]
                headers["Content-Range"] = f"bytes {start}-{len(DAT) - 1}/{len(DAT)}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Proxy:
    def __init__(self, url: str, upstreams: list[StandIn], access_log: Path) -> None:
        self.url = url
        self.upstreams = upstreams
        self.access_log = access_log

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for u in self.upstreams for (_, p, h) in u.seen if p == path]

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=10)


def render(conf: str, web1: int, web2: int, listen: int, cache: Path) -> str:
    """The compose config with this machine's addresses in place of the containers'."""
    replacements = {
        "server web1:8000": f"server 127.0.0.1:{web1}",
        "server web2:8000": f"server 127.0.0.1:{web2}",
        "listen 80 default_server": f"listen 127.0.0.1:{listen} default_server",
        "/var/cache/nginx/utakata": str(cache),
        "/var/log/nginx/access.log": str(cache.parent / "access.log"),
        "/usr/share/nginx/utakata-errors/": f"{REPO}/deploy/errors/",
    }
    for old, new in replacements.items():
        assert old in conf, f"deploy/nginx.conf no longer has {old!r}"
        conf = conf.replace(old, new)
    return conf


def main_conf(tmp: Path) -> Path:
    """A main nginx.conf (the role of the image's own) that includes the rendered file."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"  {kind}_temp_path {tmp}/{kind};" for kind in kinds)
    # Workers as this test's user (root would otherwise run them as nobody, who cannot enter tmp).
    user = ""
    if os.getuid() == 0:
        user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};\n"
    main = tmp / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  access_log off;\n{temp}\n  include {tmp}/default.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    binary = nginx_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: scripts/ensure-test-services installs nginx-light")
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; make test installs it)")
    return binary


@contextlib.contextmanager
def running_nginx(nginx: str, tmp: Path, web1: int, web2: int) -> Iterator[str]:
    """deploy/nginx.conf in front of ``web1`` and ``web2`` (ports) until the block ends; yields its URL."""
    listen = free_port()
    (tmp / "default.conf").write_text(render(CONF.read_text(), web1, web2, listen, tmp / "cache"))
    main = main_conf(tmp)
    process = subprocess.Popen([nginx, "-c", str(main), "-p", str(tmp), "-g", "daemon off;"], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{listen}"
    deadline = time.monotonic() + 10
    while True:
        try:
            requests.get(url + "/", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nginx did not start: {process.stderr.read().decode() if process.stderr else ''}")
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(nginx, tmp_path_factory):
    upstreams = [StandIn("web1"), StandIn("web2")]
    for u in upstreams:
        threading.Thread(target=u.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("nginx")
    with running_nginx(nginx, tmp, upstreams[0].server_port, upstreams[1].server_port) as url:
        yield Proxy(url, upstreams, tmp / "access.log")
    for u in upstreams:
        u.shutdown()
        u.server_close()


def test_nginx_accepts_the_config(nginx, tmp_path):
    (tmp_path / "default.conf").write_text(render(CONF.read_text(), 18000, 18001, free_port(), tmp_path / "cache"))
    done = subprocess.run([nginx, "-t", "-c", str(main_conf(tmp_path)), "-p", str(tmp_path)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_the_access_log_keeps_no_client_address_referer_or_user_agent(proxy):
    proxy.get("/a/index-for-the-log", Referer="http://referer.example/", **{"User-Agent": "Monazilla/1.00 JDim"})
    deadline = time.monotonic() + 5
    while "/a/index-for-the-log" not in (logged := proxy.access_log.read_text()):
        assert time.monotonic() < deadline, "the request never reached the access log"
        time.sleep(0.05)
    line = next(line for line in logged.splitlines() if "/a/index-for-the-log" in line)
    assert "127.0.0.1" not in line and "referer.example" not in line and "JDim" not in line


def test_a_dat_is_answered_from_the_cache_for_one_second_at_most(proxy):
    fetched = time.monotonic()
    first = proxy.get("/a/dat/1.dat")
    second = proxy.get("/a/dat/1.dat")
    assert (first.status_code, first.content) == (200, DAT)
    assert (second.status_code, second.content) == (200, DAT)
    assert [first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    assert len(proxy.hits("/a/dat/1.dat")) == 1
    # Clients are still told to revalidate every time.
    assert second.headers["Cache-Control"] == "no-cache"

    # nginx keeps time in whole seconds: "1s" is fresh to the end of the next second.
    while (status := proxy.get("/a/dat/1.dat").headers["X-Cache-Status"]) == "HIT":
        assert time.monotonic() - fetched < 2.2, "a cached dat outlived 1s + nginx's one-second clock"
        time.sleep(0.05)
    assert status == "EXPIRED"
    assert len(proxy.hits("/a/dat/1.dat")) == 2


def test_subject_txt_and_setting_txt_are_cached_too(proxy):
    for path in ("/a/subject.txt", "/a/SETTING.TXT"):
        statuses = [proxy.get(path).headers["X-Cache-Status"] for _ in range(2)]
        assert statuses == ["MISS", "HIT"]
        assert len(proxy.hits(path)) == 1


def test_range_reaches_the_app_and_each_range_is_its_own_cache_entry(proxy):
    part = proxy.get("/b/dat/1.dat", Range="bytes=100-")
    assert part.status_code == 206
    assert part.content == DAT[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(DAT) - 1}/{len(DAT)}"
    assert proxy.hits("/b/dat/1.dat")[-1]["Range"] == "bytes=100-"

    again = proxy.get("/b/dat/1.dat", Range="bytes=100-")
    assert (again.status_code, again.headers["X-Cache-Status"], again.content) == (206, "HIT", DAT[100:])
    other = proxy.get("/b/dat/1.dat", Range="bytes=200-")
    assert (other.status_code, other.headers["X-Cache-Status"], other.content) == (206, "MISS", DAT[200:])
    whole = proxy.get("/b/dat/1.dat")
    assert (whole.status_code, whole.headers["X-Cache-Status"], whole.content) == (200, "MISS", DAT)
    assert len(proxy.hits("/b/dat/1.dat")) == 3


def test_the_app_not_nginx_decides_not_modified(proxy):
    # The stand-in ignores If-Modified-Since and says 200, as the app does for a post
    # made later in the same second; nginx's whole-second comparison would say 304.
    r = proxy.get("/c/dat/1.dat", **{"If-Modified-Since": LAST_MODIFIED, "If-None-Match": '"v0"'})
    assert (r.status_code, r.content) == (200, DAT)
    seen = proxy.hits("/c/dat/1.dat")[-1]
    assert seen["If-Modified-Since"] == LAST_MODIFIED
    assert seen["If-None-Match"] == '"v0"'
    # A conditional request is not answered with an unconditional one's cached copy.
    plain = proxy.get("/c/dat/1.dat")
    assert plain.headers["X-Cache-Status"] == "MISS"


def test_a_poster_with_the_read_your_writes_cookie_bypasses_the_cache(proxy):
    cookie = {"Cookie": "utakata_posted=c/1/2:signature"}
    statuses = [proxy.get("/d/dat/1.dat", **cookie).headers["X-Cache-Status"] for _ in range(2)]
    assert statuses == ["BYPASS", "BYPASS"]
    assert len(proxy.hits("/d/dat/1.dat")) == 2
    # ...and what it fetched was not stored for the others.
    assert proxy.get("/d/dat/1.dat").headers["X-Cache-Status"] == "MISS"


def test_the_client_address_is_appended_to_x_forwarded_for(proxy):
    proxy.get("/e/", **{"X-Forwarded-For": "203.0.113.9"})
    assert proxy.hits("/e/")[-1]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"


def test_pages_and_posts_are_never_cached(proxy):
    for _ in range(2):
        r = proxy.get("/f/")
        assert "X-Cache-Status" not in r.headers
        requests.post(proxy.url + "/test/bbs.cgi", data={"bbs": "f"}, timeout=10)
    assert len(proxy.hits("/f/")) == 2
    assert len(proxy.hits("/test/bbs.cgi")) == 2


def test_both_web_containers_serve(proxy):
    served = {proxy.get("/g/").headers["X-Served-By"] for _ in range(6)}
    assert served == {"web1", "web2"}


def page_text(response: requests.Response) -> str:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.content.decode("utf-8")


def test_a_body_over_the_limit_is_refused_in_japanese_saying_it_was_not_saved(proxy):
    r = requests.post(proxy.url + "/k/post", data=b"x" * 300_000, timeout=10)
    assert r.status_code == 413
    assert "大きすぎる" in page_text(r) and "書き込みは保存されていません" in page_text(r)
    assert proxy.hits("/k/post") == []  # ...which is true: it never reached the app


def test_an_address_over_nginxs_buffers_is_refused_in_japanese(proxy):
    r = proxy.get("/h/" + "a" * 10_000)
    assert r.status_code == 414 and errors.URI_TOO_LONG in page_text(r)


def test_headers_over_nginxs_buffers_are_refused_in_japanese(proxy):
    r = proxy.get("/h/", Cookie="a=" + "b" * 9_000)
    assert r.status_code == 400 and errors.HEADERS_TOO_LARGE in page_text(r)


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"GET /a b c HTTP/1.1\r\n\r\n"],
    ids=["nul-in-a-header", "no-host", "spaces-in-the-target"],
)
def test_a_request_nginx_cannot_parse_is_refused_in_japanese(proxy, request_bytes):
    with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert errors.BAD_REQUEST in answer.decode("utf-8")


def test_the_apps_own_error_pages_pass_through_unchanged(proxy):
    r = proxy.get("/busy/")
    assert (r.status_code, r.content.decode()) == (503, "混雑しています")


def test_a_web_tier_that_does_not_answer_is_a_japanese_page_that_claims_nothing_about_a_post(nginx, tmp_path):
    with running_nginx(nginx, tmp_path, free_port(), free_port()) as url:  # nothing listens on either
        page = requests.get(url + "/j/", timeout=30)
        post = requests.post(url + "/test/bbs.cgi", data={"bbs": "j"}, timeout=30)
    assert page.status_code == 502 and "サーバーが応答しなかった" in page_text(page)
    assert post.status_code == 502
    assert "保存されたかどうかをお確かめください" in page_text(post) and "保存されていません" not in page_text(post)
