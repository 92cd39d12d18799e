"""Riak's HTTP API over pooled keep-alive connections, with failover across the listed nodes.

One ``Cluster`` per process and node list (shared by every store instance and
thread of the process): a urllib3 connection pool per node, and a note of
which nodes failed. A request goes to the next live node in turn; a node that
refused a connection, timed out or answered 503 is skipped for
``retry_after`` seconds and then tried again. Only when every node failed is
the request given up, as StoreUnavailable.

Retrying a write on another node is safe here: every value the board stores
is a join-semilattice, so a PUT that landed twice (its first answer lost) is
at worst a sibling that merges to the same value.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import HTTPError

from board.store.base import StoreUnavailable

# Statuses after which another node may do better: the coordinator could not
# reach a quorum in time (503) or is overloaded / shutting down.
RETRY_ELSEWHERE = frozenset({502, 503, 504})


@dataclass
class Node:
    host: str
    port: int
    pool: urllib3.HTTPConnectionPool
    down_until: float = 0.0
    last_error: str = ""

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Cluster:
    """The nodes of one riak:// location, their pools and health, shared by a process."""

    nodes: list[Node]
    retry_after: float
    counter: itertools.count = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def order(self) -> list[Node]:
        """Nodes to try: live ones starting at the next in turn, then those marked down (oldest mark first)."""
        now = time.monotonic()
        start = next(self.counter) % len(self.nodes)
        turn = self.nodes[start:] + self.nodes[:start]
        live = [n for n in turn if n.down_until <= now]
        down = sorted((n for n in turn if n.down_until > now), key=lambda n: n.down_until)
        return live + down

    def mark_down(self, node: Node, error: str) -> None:
        with self.lock:
            node.down_until = time.monotonic() + self.retry_after
            node.last_error = error

    def mark_up(self, node: Node) -> None:
        if node.down_until:
            with self.lock:
                node.down_until = 0.0
                node.last_error = ""


_clusters: dict[tuple, Cluster] = {}
_clusters_lock = threading.Lock()


def parse_nodes(location: str, default_port: int = 8098) -> list[tuple[str, int]]:
    """``h1:8098,h2,[::1]:8098`` -> [(host, port), ...]; a bad entry is a ValueError."""
    nodes = []
    for item in location.split(","):
        item = item.strip().rstrip("/")
        if not item:
            continue
        if item.startswith("["):  # an IPv6 literal
            host, _, rest = item[1:].partition("]")
            port_text = rest.lstrip(":")
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise ValueError(f"riak node {item!r} has no host")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ValueError(f"riak node {item!r}: port {port_text!r} is not a number") from None
        nodes.append((host, port))
    if not nodes:
        raise ValueError("no riak nodes given (riak://host:8098,host2:8098)")
    return nodes


def cluster_for(
    location: str, connect_timeout: float, read_timeout: float, pool_size: int, retry_after: float
) -> Cluster:
    """The process's Cluster for these nodes and settings (a forked child gets its own sockets)."""
    key = (os.getpid(), location, connect_timeout, read_timeout, pool_size, retry_after)
    cluster = _clusters.get(key)
    if cluster is not None:
        return cluster
    with _clusters_lock:
        cluster = _clusters.get(key)
        if cluster is None:
            timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
            nodes = [
                Node(
                    host,
                    port,
                    urllib3.HTTPConnectionPool(
                        host, port, maxsize=pool_size, block=False, timeout=timeout, retries=False
                    ),
                )
                for host, port in parse_nodes(location)
            ]
            cluster = _clusters[key] = Cluster(nodes, retry_after)
    return cluster


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    node: str


def path(*parts: str, query: Mapping[str, object] | None = None) -> str:
    """A request path from unescaped parts: each is quoted whole (a key's "/" included)."""
    text = "/" + "/".join(quote(p, safe="") for p in parts)
    if query:
        text += "?" + urlencode({k: v for k, v in query.items() if v is not None})
    return text


def request(
    cluster: Cluster,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Send the request to the first node that answers it; StoreUnavailable when none does."""
    errors = []
    for node in cluster.order():
        try:
            raw = node.pool.urlopen(method, url, body=body, headers=dict(headers or {}), preload_content=True)
        except HTTPError as exc:  # refused, reset, timed out: the node is skipped for a while
            cluster.mark_down(node, f"{type(exc).__name__}: {exc}")
            errors.append(f"{node.name}: {type(exc).__name__}")
            continue
        if raw.status in RETRY_ELSEWHERE:
            cluster.mark_down(node, f"HTTP {raw.status}")
            errors.append(f"{node.name}: HTTP {raw.status} {raw.data[:200]!r}")
            continue
        cluster.mark_up(node)
        return Response(raw.status, raw.headers, raw.data, node.name)
    raise StoreUnavailable(f"riak {method} {url}: no node answered ({'; '.join(errors)})")
