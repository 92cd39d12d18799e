"""An in-memory store, the twin of the real ones for tests (like Django's locmem cache).

State lives in a module-level dict keyed by location and guarded by a lock, so
every instance (and thread) given the same location shares it; nothing survives
the process. Contexts are version integers drawn from one counter per location,
so a context is never reused, not even after a delete.

By default a write with a stale context (or with none while the key exists)
raises Conflict, like SQLite. The test-only option ``siblings=1`` makes it
behave like Riak with allow_mult instead: such a write is kept *beside* the
values it did not know about, and the next fetch returns them all as siblings.
Each sibling remembers the version that wrote it (a "dot"); a write with
context c replaces exactly the siblings with dot <= c, i.e. the ones the
writer's fetch saw, so a write with the context of a fetch that saw every
sibling resolves them into one value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from board.store.base import BaseStore, Conflict, Fetched

_TRUE = {"1", "true", "yes", "on"}


class _Space:
    """The data of one location: (bucket, key) -> ((dot, value), ...), oldest first."""

    __slots__ = ("data", "lock", "version")

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], tuple[tuple[int, bytes], ...]] = {}
        self.lock = threading.Lock()
        self.version = 0


_spaces: dict[str, _Space] = {}
_spaces_lock = threading.Lock()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"store values are bytes, not {type(value).__name__}")


class MemoryStore(BaseStore):
    """Buckets of bytes in this process's memory, shared per location."""

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        self.makes_siblings = str(self.options.get("siblings", "")).lower() in _TRUE

    @classmethod
    def forget_all(cls) -> None:
        """Drop the data of every location (tests call this between tests)."""
        with _spaces_lock:
            _spaces.clear()

    def _space(self) -> _Space:
        # Looked up on every call, so forget_all() is seen by instances made before it.
        space = _spaces.get(self.location)
        if space is None:
            with _spaces_lock:
                space = _spaces.setdefault(self.location, _Space())
        return space

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        space = self._space()
        with space.lock:
            entry = space.data.get((bucket, key))
        if entry is None:
            return None
        return Fetched(tuple(value for _, value in entry), entry[-1][0])

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        space = self._space()
        found = {}
        with space.lock:
            for key in keys:
                entry = space.data.get((bucket, key))
                if entry is not None:
                    found[key] = Fetched(tuple(value for _, value in entry), entry[-1][0])
        return found

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        value = _as_bytes(value)
        space = self._space()
        with space.lock:
            entry = space.data.get((bucket, key))
            if self.makes_siblings:
                # Keep what the writer did not see (dot newer than its context).
                seen = -1 if context is None else context
                kept = tuple(s for s in entry if s[0] > seen) if entry else ()
            elif entry is None:
                if context is not None:
                    raise Conflict(f"{bucket}/{key}: deleted since it was read")
                kept = ()
            elif context is None:
                raise Conflict(f"{bucket}/{key}: exists, and the write gave no context")
            elif context != entry[-1][0]:
                raise Conflict(f"{bucket}/{key}: written since it was read")
            else:
                kept = ()
            space.version += 1
            space.data[(bucket, key)] = (*kept, (space.version, value))

    def delete(self, bucket: str, key: str) -> None:
        space = self._space()
        with space.lock:
            space.data.pop((bucket, key), None)

    def is_empty(self) -> bool:
        space = self._space()
        with space.lock:
            return not space.data

    def flush(self) -> None:
        space = self._space()
        with space.lock:
            space.data.clear()
