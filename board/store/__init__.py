"""The volatile store: the fast read model. ``get_store()`` returns the configured backend."""

from board.lib.backends import BackendHandler
from board.store.base import BaseStore, Conflict, Fetched, StoreError, StoreMisconfigured, StoreUnavailable

SCHEMES = {
    "riak": "board.store.riak.RiakStore",
    "sqlite": "board.store.sqlite.SQLiteStore",
    "memory": "board.store.memory.MemoryStore",
}

handler = BackendHandler("UTAKATA_STORE")


def get_store() -> BaseStore:
    """The store backend settings.UTAKATA_STORE names (one instance per thread)."""
    return handler.get()


__all__ = [
    "SCHEMES",
    "BaseStore",
    "Conflict",
    "Fetched",
    "StoreError",
    "StoreMisconfigured",
    "StoreUnavailable",
    "get_store",
    "handler",
]
