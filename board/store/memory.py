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
from collections.abc import Iterable, Iterator
from typing import Any

from board.store.base import BaseStore, Conflict, Fetched

_TRUE = {"1", "true", "yes", "on"}


class _Space:
    """The data of one location: (generation, bucket, key) -> ((dot, value), ...), oldest first.

    Bookkeeping outside every generation (the pointer) is under generation 0.
    """

    __slots__ = ("data", "lock", "version")

    def __init__(self) -> None:
        self.data: dict[tuple[int, str, str], tuple[tuple[int, bytes], ...]] = {}
        self.lock = threading.Lock()
        self.version = 0


_spaces: dict[tuple[str, str], _Space] = {}  # (location, model) -> data
_spaces_lock = threading.Lock()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"store values are bytes, not {type(value).__name__}")


class MemoryStore(BaseStore):
    """Buckets of bytes in this process's memory, shared per location."""

    KNOWN_OPTIONS = BaseStore.KNOWN_OPTIONS | {"siblings"}
    KIND = "memory store"
    # The pointer is a dict lookup here: read it on every call, so a switch is seen at once.
    POINTER_TTL = 0.0

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
        space = _spaces.get((self.location, self.model))
        if space is None:
            with _spaces_lock:
                space = _spaces.setdefault((self.location, self.model), _Space())
        return space

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        return self._fetch(self.generation(), bucket, key)

    def _fetch(self, generation: int, bucket: str, key: str) -> Fetched | None:
        space = self._space()
        with space.lock:
            entry = space.data.get((generation, bucket, key))
        if entry is None:
            return None
        return Fetched(tuple(value for _, value in entry), entry[-1][0])

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        space = self._space()
        generation = self.generation()
        found = {}
        with space.lock:
            for key in keys:
                entry = space.data.get((generation, bucket, key))
                if entry is not None:
                    found[key] = Fetched(tuple(value for _, value in entry), entry[-1][0])
        return found

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        self._store(self.generation(), bucket, key, value, context)

    def _store(self, generation: int, bucket: str, key: str, value: bytes, context: Any) -> None:
        value = _as_bytes(value)
        space = self._space()
        with space.lock:
            entry = space.data.get((generation, bucket, key))
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
            space.data[(generation, bucket, key)] = (*kept, (space.version, value))

    def delete(self, bucket: str, key: str) -> None:
        space = self._space()
        generation = self.generation()
        with space.lock:
            space.data.pop((generation, bucket, key), None)

    def is_empty(self) -> bool:
        space = self._space()
        generation = self.generation()
        with space.lock:
            return not any(slot[0] == generation for slot in space.data)

    def items(self) -> Iterator[tuple[str, str, tuple[bytes, ...]]]:
        """Every object of the current generation by bucket and key, with its sibling values (tests compare stores)."""
        space = self._space()
        generation = self.generation()
        with space.lock:
            data = [(slot, entry) for slot, entry in space.data.items() if slot[0] == generation]
        for (_, bucket, key), entry in sorted(data):
            yield bucket, key, tuple(value for _, value in entry)

    def _meta_fetch(self, key: str) -> Fetched | None:
        return self._fetch(0, "meta", key)

    def _meta_store(self, key: str, value: bytes, context: Any) -> None:
        self._store(0, "meta", key, value, context)

    def _drop_generation(self, generation: int) -> None:
        space = self._space()
        with space.lock:
            for slot in [slot for slot in space.data if slot[0] == generation]:
                del space.data[slot]
