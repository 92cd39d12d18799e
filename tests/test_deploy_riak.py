"""The Riak node entrypoint (deploy/riak/riak-node), run on loopback against the real release.

One three-node cluster serves the whole module, and the tests run in file order,
each continuing from the state the previous one left. The three nodes start at
once, as `docker compose up` starts them: the seed creates the cluster and its
bucket type, the other two wait for it and join; then a restarted member
changes nothing, a fresh twin of a live member is refused, and a node whose
data is gone takes its dead self over and is refilled by repair, and so does a
new node told which dead member it replaces.
The entrypoint is the one the container runs; only paths, ports and the node
names come from the environment, as they would in compose.

The release is found in UTAKATA_RIAK_HOME (a directory holding either an
unpacked release, bin/riak, or a riak-*.tar.gz), by default ../shared/riak
beside the repository.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = REPO / "deploy" / "riak" / "riak-node"
# Bases away from riakctl's (18098...) and the other test clusters', and below Linux's
# ephemeral ports (32768 up), which any outgoing connection may hold; node i adds 10*(i-1).
BASES = {"http": 28098, "pb": 28087, "handoff": 28099, "repl": 28090, "dist": 28091}
EPMD_BASE = 28189
N_VAL = 2  # not the default (3), so the test shows the setting is honoured
KEYS = [f"k{i}" for i in range(60)]
TEXT = {"Content-Type": "text/plain"}


def riak_release_source() -> Path | None:
    """The directory holding the release or its tarball, or None."""
    configured = os.environ.get("UTAKATA_RIAK_HOME")
    where = Path(configured) if configured else REPO.parent / "shared" / "riak"
    if (where / "bin" / "riak").exists() or any(where.glob("riak-*.tar.gz")):
        return where
    return None


def unpacked_release(source: Path, into: Path) -> Path:
    if (source / "bin" / "riak").exists():
        return source
    tarball = sorted(source.glob("riak-*.tar.gz"))[-1]
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(into)], check=True)
    return into / "riak"


def free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_shift(nodes: int) -> int:
    """The first shift of the bases (0, 1000, 2000...) at which every port this module needs is free."""
    for shift in range(0, 4000, 1000):
        ports = [EPMD_BASE + shift] + [b + shift + 10 * i for b in BASES.values() for i in range(nodes)]
        if all(free(p) for p in ports):
            return shift
    raise RuntimeError("no free range of ports for the Riak test cluster")


@dataclass
class Node:
    index: int
    root: Path
    release: Path
    shift: int
    peers: str
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.root / f"node{self.index}"

    def port(self, kind: str) -> int:
        return BASES[kind] + self.shift + 10 * (self.index - 1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port('http')}"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RIAK_HOME=str(self.release),
            RIAK_NODE_DIR=str(self.dir),
            RIAK_NODENAME=f"n{self.index}@127.0.0.1",
            RIAK_COOKIE="utakata-test",
            RIAK_HTTP_LISTEN=f"127.0.0.1:{self.port('http')}",
            RIAK_PB_LISTEN=f"127.0.0.1:{self.port('pb')}",
            RIAK_HANDOFF_IP="127.0.0.1",
            RIAK_HANDOFF_PORT=str(self.port("handoff")),
            RIAK_REPL_LISTEN=f"127.0.0.1:{self.port('repl')}",
            RIAK_DIST_PORT=str(self.port("dist")),
            RIAK_EPMD_PORT=str(EPMD_BASE + self.shift),
            RIAK_RING_SIZE="16",
            RIAK_N_VAL=str(N_VAL),
            RIAK_SCHEDULERS="2",
            RIAK_LOG_LEVEL="warning",
            RIAK_VNODE_INACTIVITY_MS="2000",  # handoff starts soon after a vnode goes quiet
            RIAK_PEERS=self.peers,
            RIAK_START_TIMEOUT="120",
            RIAK_JOIN_TIMEOUT="300",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    @property
    def output(self) -> Path:
        return self.root / f"node{self.index}.out"

    def start(self, **extra: str) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"node {self.index} is running"
        self.extra_env.update(extra)
        with self.output.open("ab") as out:
            out.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [str(ENTRYPOINT), "run"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one process group: the entrypoint and its Riak
            )

    def wait_ready(self, timeout: float = 300) -> str:
        """The entrypoint's run/ready line ("MODE NODENAME") once it has done its work."""
        deadline = time.monotonic() + timeout
        ready = self.dir / "run" / "ready"
        while not ready.exists():
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"node {self.index} entrypoint exited {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"node {self.index} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.5)
        return ready.read_text().strip()

    def log_tail(self, lines: int = 30) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def riak(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(ENTRYPOINT), "riak", *args], env=self.env(), capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise AssertionError(f"riak {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}")
        return done.stdout.strip()

    def eval(self, expression: str) -> str:
        return self.riak("eval", expression)

    def members(self) -> list[str]:
        out = self.eval("{ok,R}=riak_core_ring_manager:get_my_ring(), riak_core_ring:all_members(R).")
        return sorted(m.strip("'") for m in out.strip("[]").split(","))

    def stop(self) -> None:
        """SIGTERM, as a container stop does; SIGKILL the group if that does not end it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """The node is lost: every process of it dies at once."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


class Cluster:
    def __init__(self, root: Path, release: Path, shift: int, size: int = 3) -> None:
        self.root = root
        self.release = release
        self.shift = shift
        peers = ",".join(f"http://127.0.0.1:{BASES['http'] + shift + 10 * i}" for i in range(size))
        self.nodes = [Node(i, root, release, shift, peers) for i in range(1, size + 1)]

    def node(self, index: int) -> Node:
        return self.nodes[index - 1]

    def settled(self, via: Node, timeout: float = 300) -> None:
        """No pending ownership change and no transfer left, so every replica sits where the ring says."""
        deadline = time.monotonic() + timeout
        while True:
            pending = via.eval("{ok,R}=riak_core_ring_manager:get_my_ring(), riak_core_ring:pending_changes(R).")
            if pending == "[]" and "No transfers active" in via.riak("admin", "transfers", check=False):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"cluster not settled after {timeout}s: {via.riak('admin', 'transfers', check=False)}")
            time.sleep(2)

    def stop(self) -> None:
        running = [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]
        for node in running:
            node.proc.send_signal(signal.SIGTERM)
        for node in running:
            try:
                node.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        self.kill_strays()

    def kill_strays(self) -> None:
        """Whatever is left: a beam run from this cluster's directory, and the private epmd on our port."""
        marker = str(self.root).encode()
        epmd_env = f"ERL_EPMD_PORT={EPMD_BASE + self.shift}".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                ours = marker in (proc / "cmdline").read_bytes()
                if not ours and (proc / "comm").read_text().strip() == "epmd":
                    ours = epmd_env in (proc / "environ").read_bytes().split(b"\0")
                if ours:
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    source = riak_release_source()
    if source is None:
        pytest.skip("no Riak release: set UTAKATA_RIAK_HOME to a directory with bin/riak or riak-*.tar.gz")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: riak-node asks its peers and itself over HTTP with it")
    root = tmp_path_factory.mktemp("riak-deploy")
    release = unpacked_release(source, root / "rel")
    # Node 4 starts only in the last test, in a dead member's place.
    c = Cluster(root / "nodes", release, port_shift(4), size=4)
    c.root.mkdir()
    yield c
    c.stop()


def bucket_url(node: Node, key: str = "") -> str:
    return f"{node.url}/types/utakata/buckets/deploytest/keys/{key}"


def test_the_seed_starts_the_cluster_and_activates_the_bucket_type(cluster):
    seed = cluster.node(1)
    seed.start(RIAK_SEED="1")
    for i in (2, 3):
        cluster.node(i).start()
    assert seed.wait_ready() == "seed n1@127.0.0.1"

    props = requests.get(f"{seed.url}/types/utakata/props", timeout=10).json()["props"]
    assert props["active"] is True
    assert props["allow_mult"] is True
    assert props["dvv_enabled"] is True
    assert props["last_write_wins"] is False
    assert props["n_val"] == N_VAL
    assert subprocess.run([str(ENTRYPOINT), "health"], env=seed.env()).returncode == 0


def test_the_other_nodes_wait_for_the_seed_and_join_it(cluster):
    # Two joins staged at once: one commit may carry both, the other finds nothing to commit.
    assert cluster.node(2).wait_ready() == "join n2@127.0.0.1"
    assert cluster.node(3).wait_ready() == "join n3@127.0.0.1"

    expected = ["n1@127.0.0.1", "n2@127.0.0.1", "n3@127.0.0.1"]
    for node in cluster.nodes[:3]:
        assert node.members() == expected
    member_status = cluster.node(1).riak("admin", "member-status")
    assert "Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0" in member_status
    cluster.settled(via=cluster.node(1))


def test_a_restarted_member_keeps_its_name_and_changes_nothing(cluster):
    node = cluster.node(2)
    ring_before = cluster.node(1).eval("{ok,R}=riak_core_ring_manager:get_my_ring(), riak_core_ring:all_owners(R).")
    node.stop()
    node.start()
    assert node.wait_ready() == "restart n2@127.0.0.1"

    after = cluster.node(1).eval("{ok,R}=riak_core_ring_manager:get_my_ring(), riak_core_ring:all_owners(R).")
    assert after == ring_before
    last_start = node.output.read_text().rsplit("--- start", 1)[1]
    assert "staged" not in last_start
    assert "commit" not in last_start


def test_a_fresh_node_never_takes_over_a_live_member_of_its_name(cluster):
    # Same name as the running n2, empty data: an operator's mistake, refused before Riak starts.
    twin = Node(2, cluster.root / "twin", cluster.release, cluster.shift, cluster.node(1).peers)
    twin.dir.parent.mkdir()
    env = twin.env(RIAK_LIVE_WAIT="4")  # a real one waits out net_ticktime first
    done = subprocess.run([str(ENTRYPOINT), "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to take over a live member" in done.stderr
    assert not (twin.dir / "etc" / "riak.conf").exists()


def keys_held_locally(node: Node) -> tuple[list[str], list[str]]:
    """(keys this node is a primary for, those of them its own vnodes hold).

    Read from the vnodes directly, so no read repair can have helped. A key
    whose every replica sits on this node is left out: its other copies were
    on the lost node, and nothing can bring them back.
    """
    keys = ",".join(f'<<"{k}">>' for k in KEYS)
    out = node.eval(
        'B={<<"utakata">>,<<"deploytest">>}, '
        f"Pl=fun(K) -> [{{P,N}} || {{{{P,N}},_}} <- "
        f"riak_core_apl:get_primary_apl(riak_core_util:chash_key({{B,K}}), {N_VAL}, riak_kv)] end, "
        f"Mine=[{{P,K}} || K <- [{keys}], Ps <- [Pl(K)], lists:any(fun({{_,N}}) -> N =/= node() end, Ps), "
        "{P,N} <- Ps, N =:= node()], "
        "{[K || {_,K} <- Mine], [K || {P,K} <- Mine, element(1, riak_kv_vnode:local_get(P, {B,K})) =:= ok]}."
    )
    mine, _, held = "".join(out.split()).partition("],[")  # the term may be wrapped over lines
    return re.findall(r'<<"(k\d+)">>', mine), re.findall(r'<<"(k\d+)">>', held)


def assert_refilled(node: Node) -> None:
    mine, held = keys_held_locally(node)
    assert len(set(mine)) > len(KEYS) // 3
    assert held == mine
    for key in sorted(set(mine)):
        r = requests.get(bucket_url(node, key) + "?r=all", timeout=10)
        assert (r.status_code, r.text) == (200, f"value of {key}")


def test_a_wiped_node_takes_over_its_dead_self_and_repair_refills_it(cluster):
    writer = cluster.node(1)
    for key in KEYS:
        r = requests.put(bucket_url(writer, key) + "?w=all", data=f"value of {key}", headers=TEXT, timeout=10)
        assert r.status_code == 204, r.text

    lost = cluster.node(3)
    lost.kill()
    shutil.rmtree(lost.dir)
    lost.start()
    assert lost.wait_ready() == "takeover n3-g2@127.0.0.1"

    assert writer.members() == ["n1@127.0.0.1", "n2@127.0.0.1", "n3-g2@127.0.0.1"]
    assert_refilled(lost)


def test_a_new_node_told_which_dead_member_it_replaces_takes_its_place(cluster):
    cluster.node(2).kill()
    newcomer = cluster.node(4)
    newcomer.start(RIAK_REPLACES="n2@127.0.0.1")
    assert newcomer.wait_ready() == "takeover n4@127.0.0.1"

    assert cluster.node(1).members() == ["n1@127.0.0.1", "n3-g2@127.0.0.1", "n4@127.0.0.1"]
    assert "staged forced replacement of 'n2@127.0.0.1' with 'n4@127.0.0.1'" in newcomer.output.read_text()
    assert_refilled(newcomer)
