"""The volatile store's interface, shaped for Riak KV from the first day.

A store is buckets of keys holding opaque bytes. There is no transaction across
keys and no query: reads are by key. A read may return several sibling values
(Riak with allow_mult) together with an opaque causal context (a vclock); a
write passes the context back. Stores that cannot make siblings (SQLite,
memory) instead refuse a write whose context is stale, and update() retries.
Either way update() ends with one merged value, so every value kept here must
be a join-semilattice: merging siblings in any order gives the same result.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


class StoreError(Exception):
    """Base class for every failure of the store."""


class StoreUnavailable(StoreError):
    """The store could not be reached; the operation may be retried."""


class Conflict(StoreError):
    """A conditional write lost to a concurrent one (stores without siblings)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a read returns: one value, or several siblings, and the context to write back."""

    values: tuple[bytes, ...]
    context: Any


class BaseStore:
    """A key-value store of bytes, with causal contexts and possible siblings."""

    #: Whether the backend keeps concurrent writes as siblings (Riak) instead of refusing them.
    makes_siblings = False

    def __init__(self, location: str, options: dict | None = None) -> None:
        self.location = location
        self.options = options or {}

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        """Return the value(s) and context at bucket/key, or None if absent."""
        raise NotImplementedError

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        """Write value; with context from fetch(), as its causal successor.

        Stores without siblings raise Conflict when context is stale (or when
        context is None and the key exists).
        """
        raise NotImplementedError

    def delete(self, bucket: str, key: str) -> None:
        """Remove bucket/key; absent keys are not an error."""
        raise NotImplementedError

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        """Fetch several keys of one bucket; absent keys are left out."""
        found = {}
        for key in keys:
            fetched = self.fetch(bucket, key)
            if fetched is not None:
                found[key] = fetched
        return found

    def is_empty(self) -> bool:
        """Whether the store holds no data at all (a new node)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Remove everything: the store is volatile, the log is the truth."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the default holds none."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group the writes made inside ``with store.batch():`` for speed (e.g. rehydrate).

        A hint, not a transaction: Riak has none, so nothing may rely on the
        writes landing all or nothing, and a backend may commit a long batch in
        several pieces. Inside a batch every call behaves exactly as outside it
        (reads see the batch's own writes, stale contexts still conflict); other
        instances may only see the writes when the batch (or a piece of it)
        ends. Batches nest. The default groups nothing.
        """
        return contextlib.nullcontext()

    # Built from the primitives above; backends need not override them.

    def get(self, bucket: str, key: str, merge: Callable[[list[bytes]], bytes] | None = None) -> bytes | None:
        """Read one value, merging siblings with merge (required if siblings can occur)."""
        fetched = self.fetch(bucket, key)
        if fetched is None:
            return None
        if len(fetched.values) == 1:
            return fetched.values[0]
        if merge is None:
            raise StoreError(f"{bucket}/{key} has {len(fetched.values)} siblings and no merge")
        return merge(list(fetched.values))

    def update(
        self,
        bucket: str,
        key: str,
        mutate: Callable[[bytes | None], bytes | None],
        merge: Callable[[list[bytes]], bytes],
        attempts: int = 20,
    ) -> bytes | None:
        """Read-modify-write bucket/key: mutate(current) gives the new value.

        Siblings are merged before mutate sees them. mutate returning the value
        it was given (or None) means "nothing to change" and writes nothing,
        which keeps idempotent re-application cheap. mutate may run several
        times (once per lost race), so it must not have side effects.
        """
        for attempt in range(attempts):
            fetched = self.fetch(bucket, key)
            if fetched is None:
                current, context = None, None
            elif len(fetched.values) == 1:
                current, context = fetched.values[0], fetched.context
            else:
                current, context = merge(list(fetched.values)), fetched.context
            new = mutate(current)
            if new is None or new == current and fetched is not None and len(fetched.values) == 1:
                return current
            try:
                self.store(bucket, key, new, context)
            except Conflict:
                if attempt:
                    # Retry at once the first time, then back off with jitter: racers
                    # that all retry immediately mostly collide again.
                    time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
                continue
            return new
        raise Conflict(f"{bucket}/{key}: gave up after {attempts} conflicting writes")
