"""The project's own processes, started for real: gunicorn and Celery workers.

Tests (and benchmarks) that need the web tier or a worker as it runs in
production start it here as a subprocess, wait until it is ready, and stop it
on the way out. Each process

- runs in a session of its own, so ``kill()`` can SIGKILL it together with
  its children (gunicorn's workers, Celery's pool) the way a container dies;
- writes stdout and stderr to a log file, never to a pipe that could fill up
  and block it; ``output()`` reads it, and a failure to start, or an error in
  the ``with`` block, prints its tail (pytest shows it for failing tests);
- gets its environment from the caller, normally ``services.project_env``.

Typical use::

    env = services.project_env(REDIS_URL=redis_url, UTAKATA_DATA_DIR=str(tmp_path))
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    with processes.gunicorn(env, workers=2) as web, processes.celery_worker(env) as worker:
        client = processes.BoardClient(web.url)
        key = client.new_thread("test", "スレタイ", "本文")
        client.reply("test", key, "レス")
        worker.kill()  # SIGKILL, mid-task if you like
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import requests

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
TAIL = 4000  # characters of a process's log shown when something went wrong


class ProcessFailed(RuntimeError):
    """A process exited, or did not become ready in time; the message carries its log's tail."""


class Service:
    """A started subprocess with its own process group and log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: str | Path | None = None):
        self.name = name
        self.argv = list(argv)
        log_dir = Path(log_dir or tempfile.mkdtemp(prefix="utakata-proc-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def tail(self, size: int = TAIL) -> str:
        return self.output()[-size:]

    def failed(self, why: str) -> ProcessFailed:
        return ProcessFailed(f"{self.name} (pid {self.pid}) {why}; log {self.log_path}:\n{self.tail()}")

    def wait_for_output(self, text: str, timeout: float = 15.0, count: int = 1) -> None:
        """Wait until text appears count times in the log; raise ProcessFailed if it exits first."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if not self.alive():
                raise self.failed(f"exited with {self.proc.returncode} before logging {text!r}")
            if time.monotonic() > deadline:
                raise self.failed(f"did not log {text!r} x{count} within {timeout}s")
            time.sleep(0.05)

    def children(self) -> list[int]:
        """Pids of the direct children (gunicorn workers, Celery pool processes)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            # The command name (field 2) may hold spaces and parentheses: parse after the last ")".
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid:
                found.append(int(entry.name))
        return sorted(found)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the main process (a graceful shutdown); SIGKILL everything left after timeout."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        return self.kill()

    def kill(self) -> int:
        """SIGKILL the process and every process in its group at once, as when a container dies."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return self.proc.wait()


class WebServer(Service):
    """gunicorn serving boards_site.wsgi (or another WSGI module) on 127.0.0.1:port."""

    def __init__(self, port: int, workers: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"

    def worker_pids(self) -> list[int]:
        return self.children()

    def wait_ready(self, path: str = "/", timeout: float = 30.0) -> None:
        """Wait until every worker is forked and a request to path answers (any status below 500)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise self.failed(f"exited with {self.proc.returncode} while starting")
            if len(self.worker_pids()) >= self.workers and _answers(self.url + path):
                return
            if time.monotonic() > deadline:
                raise self.failed(f"not serving {path} with {self.workers} workers after {timeout}s")
            time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@contextlib.contextmanager
def _running(service: Service) -> Iterator[None]:
    try:
        yield
    except ProcessFailed:
        raise  # its message holds the log already
    except BaseException:
        print(f"--- {service.name} log ({service.log_path}) ---\n{service.tail()}")
        raise
    finally:
        service.stop()


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    workers: int = 2,
    threads: int = 4,
    port: int | None = None,
    app: str = "boards_site.wsgi",
    access_log: bool = False,
    ready_path: str = "/",
    log_dir: str | Path | None = None,
) -> Iterator[WebServer]:
    """Run gunicorn with the production config (deploy/gunicorn.conf.py: gthread) until the block ends.

    workers processes of threads threads each; the config file reads them from
    UTAKATA_WEB_WORKERS/UTAKATA_WEB_THREADS, set here. Yields once every
    worker is forked and ready_path answers.
    """
    port = port or free_port()
    env = {
        **env,
        "UTAKATA_BIND": f"127.0.0.1:{port}",
        "UTAKATA_WEB_WORKERS": str(workers),
        "UTAKATA_WEB_THREADS": str(threads),
        "UTAKATA_ACCESS_LOG": "1" if access_log else "0",
    }
    # No control socket: its default path is shared by every gunicorn of the user.
    argv = [str(BIN / "gunicorn"), "--config", str(GUNICORN_CONFIG), "--no-control-socket", app]
    server = WebServer(port, workers, name="gunicorn", argv=argv, env=env, log_dir=log_dir)
    with _running(server):
        server.wait_ready(ready_path)
        yield server


def start_celery_worker(
    env: dict[str, str],
    concurrency: int = 1,
    pool: str = "prefork",
    log_dir: str | Path | None = None,
    timeout: float = 30.0,
    queues: str = "fanout,jobs",
) -> Service:
    """Start ``celery -A boards_site worker`` on queues and wait for its "ready." line; the caller stops it.

    Gossip, mingle and heartbeats are off: a test worker has no peers, and
    mingle alone costs a second at start.
    """
    argv = [
        str(BIN / "celery"),
        "-A",
        "boards_site",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--hostname",
        f"test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    worker = Service("celery", argv, env, log_dir)
    try:
        worker.wait_for_output(" ready.", timeout)
    except BaseException:
        worker.kill()
        raise
    return worker


@contextlib.contextmanager
def celery_worker(env: dict[str, str], concurrency: int = 1, **kwargs) -> Iterator[Service]:
    """Run a Celery worker until the block ends (stopping one the block already killed is harmless)."""
    worker = start_celery_worker(env, concurrency, **kwargs)
    with _running(worker):
        yield worker


def manage(env: dict[str, str], *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run ``manage.py args...`` in a subprocess; raise ProcessFailed with its output if it fails."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise ProcessFailed(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


SEED_BOARD = """
import json, sys
from board.events import EventType, new_event
from board.posting.commit import commit
from board.readmodel.projection import apply
from board.store import get_store
name, payload = sys.argv[1], json.loads(sys.argv[2])  # sys.argv: the script, then its arguments
apply(get_store(), commit(new_event(EventType.BOARD_CREATED, name, payload=payload)))
"""


def seed_board(env: dict[str, str], name: str, title: str, **settings: object) -> None:
    """Create a board by committing its BoardCreated directly, as an older log holds it.

    For the boards the tests name ``test``, which createboard now refuses (it is
    the 2ch CGI path); a board an older log already has keeps its name.
    """
    import json

    script = "import django, sys; django.setup(); sys.argv = sys.argv[1:]; exec(sys.argv[0])"
    result = subprocess.run(
        [sys.executable, "-c", script, SEED_BOARD, name, json.dumps({"title": title, **settings})],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise ProcessFailed(f"seeding board {name} failed:\n{result.stdout}\n{result.stderr}")


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until check() holds (what another process does takes a moment); fail after timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


# --- talking to a running server ----------------------------------------------------

TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
POSTED_RE = re.compile(r'URL=/test/read\.cgi/(?P<board>[a-z0-9_]+)/(?P<thread>\d+)/l50#(?P<number>\d+)"')


class NotPosted(AssertionError):
    """The board did not answer 書きこみました to a post."""


class BoardClient:
    """One browser over HTTP: keeps its cookies and sends the CSRF token its last form page gave it."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.token = ""

    def get(self, path: str) -> requests.Response:
        response = self.session.get(self.base_url + path, timeout=self.timeout)
        found = TOKEN_RE.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def open_form(self, board: str, thread: str | None = None) -> None:
        """Load the page whose form a user would fill in: the thread, or the board top."""
        self.get(f"/test/read.cgi/{board}/{thread}/l50" if thread else f"/{board}/")
        if not self.token:
            raise NotPosted(f"no form with a CSRF token on /{board}/ {thread or ''}")

    def post(self, board: str, **fields: str) -> requests.Response:
        """POST the form as it stands (open_form first); fields use the form's names."""
        data = {"FROM": "", "mail": "", "MESSAGE": "", **fields, "csrfmiddlewaretoken": self.token}
        return self.session.post(f"{self.base_url}/{board}/post", data=data, timeout=self.timeout)

    def posted(self, response: requests.Response) -> tuple[str, int]:
        """(thread key, res number) from an acknowledged post; NotPosted otherwise."""
        found = POSTED_RE.search(response.text)
        if response.status_code != 200 or "書きこみました" not in response.text or not found:
            raise NotPosted(f"HTTP {response.status_code}: {response.text[:500]}")
        return found.group("thread"), int(found.group("number"))

    def new_thread(self, board: str, subject: str, body: str, **fields: str) -> str:
        """Start a thread through the form; return its key."""
        if not self.token:
            self.open_form(board)
        return self.posted(self.post(board, subject=subject, MESSAGE=body, **fields))[0]

    def reply(self, board: str, thread: str, body: str, **fields: str) -> int:
        """Reply through the form; return the res number the board gave it."""
        if not self.token:
            self.open_form(board, thread)
        return self.posted(self.post(board, key=thread, MESSAGE=body, **fields))[1]


@contextlib.contextmanager
def store_write_locked(path: str | Path) -> Iterator[None]:
    """Hold an SQLite store's write lock: readers go on (WAL), a worker's apply blocks in its first write."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()
