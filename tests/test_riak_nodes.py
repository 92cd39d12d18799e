"""The tests' own Riak clusters (tests/riak_nodes.py): where their ports are drawn."""

from __future__ import annotations

from tests import riak_nodes


def test_a_clusters_ports_are_below_those_the_kernel_gives_outgoing_connections():
    # A failure test's restarted node found its port taken by a connection's local port (eaddrinuse).
    bases = {riak_nodes._free_base() for _ in range(30)}
    assert all(base >= 10_000 and base + 200 <= riak_nodes.ephemeral_low() for base in bases)
