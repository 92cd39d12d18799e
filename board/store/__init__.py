"""The volatile store: the fast read model. ``get_store()`` returns the configured backend."""

from board.lib.backends import BackendHandler
from board.store.base import BaseStore, Conflict, Fetched, StoreError, StoreUnavailable

# riak:// joins these with the Riak backend (a later issue); the interface is already its shape.
SCHEMES = {
    "sqlite": "board.store.sqlite.SQLiteStore",
    "memory": "board.store.memory.MemoryStore",
}

handler = BackendHandler("UTAKATA_STORE")


def get_store() -> BaseStore:
    """The store backend settings.UTAKATA_STORE names (one instance per thread)."""
    return handler.get()


__all__ = ["SCHEMES", "BaseStore", "Conflict", "Fetched", "StoreError", "StoreUnavailable", "get_store", "handler"]
