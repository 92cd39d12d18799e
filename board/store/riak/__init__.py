"""The Riak KV backend: the HTTP transport, sibling parsing, and the store."""

from board.store.riak.store import RiakStore

__all__ = ["RiakStore"]
