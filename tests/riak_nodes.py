"""Real Riak KV nodes for the tests, driven through the shared release's ``riakctl``.

Where the release is: ``UTAKATA_RIAK_HOME`` (a folder holding ``riakctl`` and
the release tarball), else ``../shared/riak`` next to the repository. A
running cluster can be named instead with ``UTAKATA_TEST_RIAK_URL``
(``riak://h1:8098,h2:8098``); the tests that kill or replace nodes need a
cluster of their own and skip on it.

A node takes 25-35 s to start, so one cluster serves the whole session: it
is started in the background as soon as the session knows it will need it
(see conftest.py), and the other tests run meanwhile.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODES = 4  # with 3, two of 16 preflists hold two replicas on one node (riakctl's README)


def riak_home() -> Path | None:
    """The folder with riakctl and the release, or None when this machine has none."""
    configured = os.environ.get("UTAKATA_RIAK_HOME")
    if configured:
        return Path(configured)
    default = REPO.parent / "shared" / "riak"
    return default if (default / "riakctl").exists() else None


def required() -> bool:
    """Whether a missing Riak must fail the run instead of skipping (CI, or a release was named)."""
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("UTAKATA_RIAK_HOME"))


def _ports_free(base: int) -> bool:
    for port in range(base + 80, base + 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def ephemeral_low() -> int:
    """The lowest port the kernel hands out for outgoing connections (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_base() -> int:
    """A block of 200 ports (riakctl spreads a cluster's ports over one) that nothing listens on.

    Drawn below the ports the kernel gives outgoing connections: a node
    restarted by a failure test must bind its ports again, and a connection
    of the nodes' own (distribution, handoff) or of the tests that had taken
    one of them as its local port made the restart fail with eaddrinuse and
    riakctl wait for it until its timeout. Drawn from over 100 blocks, so two
    sessions on one machine rarely pick the same; start() draws again if a
    node still finds a port taken.
    """
    top = min(ephemeral_low(), 65536) // 200 - 1
    for _ in range(50):
        base = random.randrange(50, max(top, 51)) * 200
        if _ports_free(base):
            return base
    raise RuntimeError("no free block of ports for a Riak cluster")


class RiakCluster:
    """Nodes 1..n on loopback in a private folder and port block; stop() removes everything."""

    def __init__(self, home: Path, nodes: int = NODES) -> None:
        self.home = home
        self.nodes = nodes
        self.dir = Path(tempfile.mkdtemp(prefix="utakata-riak-"))
        self.base = _free_base()
        self.http_ports = [self.base + 98 + 10 * i for i in range(nodes)]

    @property
    def env(self) -> dict[str, str]:
        b = self.base
        return {
            **os.environ,
            "RIAK_HTTP_PORT": str(b + 98),
            "RIAK_PB_PORT": str(b + 87),
            "RIAK_HANDOFF_PORT": str(b + 99),
            "RIAK_REPL_PORT": str(b + 90),
            "RIAK_DIST_PORT": str(b + 91),
            "RIAK_EPMD_PORT": str(b + 189),
            "RIAK_BUCKET_TYPES": 'utakata={"allow_mult":true,"dvv_enabled":true,"n_val":@NVAL@};'
            'utakata_lww={"allow_mult":false,"last_write_wins":true,"dvv_enabled":false,"n_val":@NVAL@}',
        }

    def ctl(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(self.home / "riakctl"), args[0], str(self.dir), *args[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"riakctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, same_ports: bool = False) -> None:
        """Start the nodes; with same_ports (a cluster whose URL is in use), never on another port block."""
        for attempt in range(3):
            try:
                self.ctl("start", str(self.nodes))
                return
            except RuntimeError:
                if attempt == 2:
                    raise
                self.ctl("stop", timeout=120)
                if same_ports:
                    # The stopped nodes' ports may not be free yet: wait for them, keep the block.
                    deadline = time.monotonic() + 60
                    while not _ports_free(self.base) and time.monotonic() < deadline:
                        time.sleep(1)
                    continue
                # Most likely another cluster took one of our ports meanwhile: a new folder, a new block.
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = Path(tempfile.mkdtemp(prefix="utakata-riak-"))
                self.base = _free_base()
                self.http_ports = [self.base + 98 + 10 * i for i in range(self.nodes)]

    def stop(self) -> None:
        try:
            self.ctl("stop", timeout=120)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self, node: int) -> None:
        self.ctl("kill", str(node))

    def restart(self, node: int, timeout: float = 180) -> None:
        """Start node again on its data; return once the members agree on the ring.

        /ping answers before the node is back in the ring's gossip: a replace run
        right after (the next test's) then waits on a member still seen as down
        and can fail "ring not ready after replace" on a loaded machine.
        """
        self.ctl("restart", str(node))
        deadline = time.monotonic() + timeout
        while True:
            said = self._admin_said(node, "ringready")  # riak admin exits non-zero while the ring is not ready
            if said.startswith("TRUE"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {node} restarted, but the ring was not ready after {timeout}s:\n{said}")
            time.sleep(1)

    def replace(self, node: int) -> None:
        """Node lost with its disk: a rebuilt empty node takes its place and is refilled by repair.

        In two full CI runs (never in a run of the Riak tests alone) riakctl's replace
        stopped with "ring not ready after replace" with every member up, once after
        waiting 360 s (RIAK_START_TIMEOUT): the ring did not settle, not slowly. What the members said is
        a warning in the run's summary, and the replace is done once more, from a newly rebuilt node (the
        loss it stands for is the same); a second failure fails the test with both.
        """
        helper = 2 if node == 1 else 1
        try:
            self.ctl("replace", str(node))
        except RuntimeError as first:
            said = [self._admin_said(helper, *args) for args in (("member-status",), ("ring-status",))]
            # A warning, not only stderr: pytest's summary shows it even when the retry passes.
            warnings.warn("\n".join([f"riakctl replace {node} retried", str(first), *said]), stacklevel=2)
            try:
                self.ctl("replace", str(node))
            except RuntimeError as second:
                raise RuntimeError("\n".join([str(first), *said, str(second)])) from second

    def _admin_said(self, node: int, *args: str) -> str:
        """What `riak admin ARGS` on node printed, or why it failed."""
        try:
            return self.ctl("admin", str(node), *args, timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return str(exc)

    def wipe(self) -> None:
        """The whole cluster lost: every node stopped, every disk emptied, a new cluster started in its place."""
        self.ctl("stop", timeout=120)
        for node in range(1, self.nodes + 1):
            shutil.rmtree(self.dir / f"node{node}" / "data", ignore_errors=True)
        self.start(same_ports=True)  # the tests' store URLs name these ports

    def url(self, nodes: list[int] | None = None, **options: str) -> str:
        chosen = nodes or list(range(1, self.nodes + 1))
        hosts = ",".join(f"127.0.0.1:{self.http_ports[i - 1]}" for i in chosen)
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"riak://{hosts}" + (f"?{query}" if query else "")


class External:
    """A cluster someone else runs (UTAKATA_TEST_RIAK_URL): usable, but not ours to kill."""

    def __init__(self, url: str) -> None:
        self.base_url = url

    def wipe(self) -> None:
        """The whole cluster lost: every node stopped, every disk emptied, a new cluster started in its place."""
        self.ctl("stop", timeout=120)
        for node in range(1, self.nodes + 1):
            shutil.rmtree(self.dir / f"node{node}" / "data", ignore_errors=True)
        self.start(same_ports=True)  # the tests' store URLs name these ports

    def url(self, nodes: list[int] | None = None, **options: str) -> str:
        if nodes is not None:
            import pytest

            pytest.skip("this test picks nodes of a cluster it runs itself, not UTAKATA_TEST_RIAK_URL's")
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return self.base_url + (("&" if "?" in self.base_url else "?") + query if query else "")

    def __getattr__(self, name: str):
        import pytest

        pytest.skip(f"this test needs a Riak cluster of its own ({name}), not UTAKATA_TEST_RIAK_URL's")


class Background:
    """Starts the session's cluster in a thread; wait() gives it (or raises why it could not start)."""

    def __init__(self, home: Path) -> None:
        self.cluster = RiakCluster(home)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="riak-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.cluster.start()
        except BaseException as exc:  # reported by wait()
            self.error = exc

    def wait(self) -> RiakCluster:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.cluster
