"""The volatile store's interface, shaped for Riak KV from the first day.

A store is buckets of keys holding opaque bytes. There is no transaction across
keys and no query: reads are by key. A read may return several sibling values
(Riak with allow_mult) together with an opaque causal context (a vclock); a
write passes the context back. Stores that cannot make siblings (SQLite,
memory) instead refuse a write whose context is stale, and update() retries.
Either way update() ends with one merged value, so every value kept here must
be a join-semilattice: merging siblings in any order gives the same result.

The data lives in generations (see generations.py): a store is emptied or
rebuilt by switching to a new generation, never by listing its keys. While a
rebuilt generation is marked for dual write, update() writes into it as well
(before the current one): that is the one place writes choose a second
generation, and every writer applying events goes through it.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from board.lib.backends import option, refuse_unknown
from board.readmodel import MODEL_VERSION
from board.store.generations import Pointer, check_model, merge_pointers


class StoreError(Exception):
    """Base class for every failure of the store."""


class StoreUnavailable(StoreError):
    """The store could not be reached; the operation may be retried."""


class Conflict(StoreError):
    """A conditional write lost to a concurrent one (stores without siblings)."""


class StoreMisconfigured(StoreError):
    """The store is set up in a way that would lose data (e.g. a Riak bucket type without allow_mult)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a read returns: one value, or several siblings, and the context to write back."""

    values: tuple[bytes, ...]
    context: Any


class BaseStore:
    """A key-value store of bytes, with causal contexts and possible siblings."""

    #: Whether the backend keeps concurrent writes as siblings (Riak) instead of refusing them.
    makes_siblings = False

    #: The URL options this backend reads (a subclass adds its own); any other is refused.
    KNOWN_OPTIONS = frozenset({"model", "generation", "generation_ttl"})
    #: How errors name the backend.
    KIND = "store"
    #: Seconds a read of the generation pointer is trusted unless ``generation_ttl`` says otherwise.
    POINTER_TTL = 1.0

    def __init__(self, location: str, options: dict | None = None) -> None:
        self.location = location
        self.options = options or {}
        refuse_unknown(self.options, self.KNOWN_OPTIONS, self.KIND)
        #: The data-model version whose generations this instance uses (see generations.py).
        self.model = check_model(str(self.options.get("model", MODEL_VERSION)))
        #: A generation this instance is bound to (a staging store), or None to follow the pointer.
        self.pinned: int | None = option(self.options, "generation", None, int, self.KIND)
        #: Seconds a read of the pointer is trusted: other processes see a switch within this.
        self.pointer_ttl: float = option(self.options, "generation_ttl", self.POINTER_TTL, float, self.KIND, zero=True)
        self._pointer: Pointer | None = None
        self._pointer_read = 0.0
        self._twin: BaseStore | None = None  # an instance on the generation of dual write, made when first needed

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
        """Whether the current generation holds no data at all (a new node, or just flushed)."""
        raise NotImplementedError

    def store_many(self, bucket: str, items: list[tuple[str, bytes, Any]]) -> dict[str, StoreError | None]:
        """store() each (key, value, context); return each key's error (Conflict...) or None.

        For bulk writes (rehydrate): a backend may send them in parallel. An
        error of one write does not stop the others.
        """
        results: dict[str, StoreError | None] = {}
        for key, value, context in items:
            try:
                self.store(bucket, key, value, context)
                results[key] = None
            except Conflict as exc:
                results[key] = exc
        return results

    # --- generations (see generations.py) -------------------------------------------------

    def _meta_fetch(self, key: str) -> Fetched | None:
        """Read a bookkeeping object kept outside every generation (the pointer)."""
        raise NotImplementedError

    def _meta_store(self, key: str, value: bytes, context: Any) -> None:
        """Write a bookkeeping object outside every generation, with the same contract as store()."""
        raise NotImplementedError

    def _create_generation(self, generation: int) -> None:
        """Prepare an allocated generation for writes; the default needs nothing."""

    def _drop_generation(self, generation: int) -> None:
        """Remove every object of a generation that is no longer current."""
        raise NotImplementedError

    def _pointer_key(self) -> str:
        return f"generation.m{self.model}"

    def pointer(self) -> Pointer:
        """The generation pointer as stored now (read afresh)."""
        fetched = self._meta_fetch(self._pointer_key())
        if fetched is None or not fetched.values:
            pointer = Pointer()
        else:
            pointer = Pointer.decode(merge_pointers(list(fetched.values)))
        self._pointer, self._pointer_read = pointer, time.monotonic()
        return pointer

    def _change_pointer(self, change: Callable[[Pointer], Pointer]) -> Pointer:
        """Read-modify-write the pointer, merging siblings, retrying lost races."""
        key = self._pointer_key()
        for _ in range(50):
            fetched = self._meta_fetch(key)
            values = list(fetched.values) if fetched is not None else []
            current = Pointer.decode(merge_pointers(values)) if values else Pointer()
            new = change(current)
            try:
                self._meta_store(key, new.encode(), fetched.context if fetched is not None else None)
            except Conflict:
                time.sleep(random.uniform(0, 0.01))
                continue
            self._pointer, self._pointer_read = new, time.monotonic()
            return new
        raise Conflict(f"{key}: gave up after 50 conflicting writes")

    def _cached_pointer(self) -> Pointer:
        """The pointer as read at most pointer_ttl seconds ago."""
        if self._pointer is None or time.monotonic() - self._pointer_read > self.pointer_ttl:
            self.pointer()
        assert self._pointer is not None
        return self._pointer

    def generation(self) -> int:
        """The generation this instance reads and writes: its pinned one, or the current one."""
        if self.pinned is not None:
            return self.pinned
        return self._cached_pointer().current

    def dual_twin(self) -> BaseStore | None:
        """An instance on the staged generation writers also write to now, or None (see generations.py)."""
        if self.pinned is not None:
            return None  # a rebuild's own writes, or a look at one generation
        generation = self._cached_pointer().dual_target()
        if generation is None:
            return None
        if self._twin is None or self._twin.pinned != generation:
            if self._twin is not None:
                self._twin.close()
            self._twin = type(self)(self.location, {**self.options, "generation": str(generation)})
        return self._twin

    def staging(self) -> BaseStore:
        """A new instance on a newly allocated, empty generation beside the current one."""
        allocated = self._change_pointer(Pointer.allocated)
        self._create_generation(allocated.highest)
        return type(self)(self.location, {**self.options, "generation": str(allocated.highest)})

    def promote(self) -> None:
        """Make this instance's generation the current one (after filling a staging store)."""
        generation = self.generation()
        switched = self._change_pointer(lambda p: p.promoted(generation))
        if switched.current != generation:
            raise StoreError(f"generation {switched.current} became current meanwhile; {generation} is not")

    def start_dual_write(self) -> None:
        """Ask every writer to write also to this staging instance's generation (first phase of a switch)."""
        generation = self._staged_generation()
        switched = self._change_pointer(lambda p: p.dual_writing(generation))
        if switched.dual != generation or switched.dual_target() is None:
            raise StoreError(f"generation {generation} cannot take dual writes: pointer is {switched}")

    def abandon(self) -> None:
        """Give up this staging instance's generation: writers stop writing to it."""
        generation = self._staged_generation()
        self._change_pointer(lambda p: p.abandoning(generation))

    def _staged_generation(self) -> int:
        if self.pinned is None:
            raise StoreError("only an instance made by staging() stands for a staged generation")
        return self.pinned

    def retire(self) -> list[int]:
        """Remove the generations older than the current one; return the ones removed."""
        pointer = self.pointer()
        removed = []
        for generation in pointer.retired():
            self._drop_generation(generation)
            removed.append(generation)
        if removed:
            self._change_pointer(lambda p: p.cleaned(pointer.current))
        return removed

    def flush(self) -> None:
        """Empty the store: switch to a new generation (the old one is retired in the background)."""
        fresh = self.staging()
        fresh.promote()
        fresh.close()
        self.pinned = None
        self.pointer()

    def close(self) -> None:
        """Release connections (backends holding some extend this)."""
        twin, self._twin = self._twin, None
        if twin is not None:
            twin.close()

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

    def fetch_to_write(self, bucket: str, key: str) -> Fetched | None:
        """The read a write's context comes from (update()): fetch(), unless a backend keeps its reads."""
        return self.fetch(bucket, key)

    def fetch_many_to_write(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        """fetch_to_write() of several keys (a batch's writes): fetch_many(), unless a backend keeps its reads."""
        return self.fetch_many(bucket, keys)

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

        While a staged generation takes dual writes, the update is made there
        first: whatever a reader can see in the current generation is then
        already in the one it will switch to. Returns the current generation's value.
        """
        twin = self.dual_twin()
        if twin is not None:
            twin.update(bucket, key, mutate, merge, attempts)
        for attempt in range(attempts):
            fetched = self.fetch_to_write(bucket, key)
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
