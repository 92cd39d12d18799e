"""The durable log's interface: an append-only object store.

Modelled on what S3 can promise: whole objects written once (a conditional put
that refuses to overwrite), read back by key, listed by prefix in key order,
deleted. Nothing here needs a transaction or a rename, so a local directory,
S3, MinIO or Ceph RGW can all implement it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO


class LogError(Exception):
    """Base class for every failure of the durable log."""


class LogUnavailable(LogError):
    """The log could not be reached or did not answer; nothing can be assumed written.

    ``unsent`` is True when the log knows no request of this operation reached
    it (every attempt failed to connect): then nothing can land later either,
    and a write is surely not written. Otherwise a write may have landed.
    """

    def __init__(self, message: str = "", unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class AlreadyExists(LogError):
    """A conditional write found the key taken: the object there was not touched."""


class NotFound(LogError):
    """No object at that key."""


class UnsafeLog(LogError):
    """The log's store does not refuse to overwrite (a conditional write was accepted twice).

    Every write is refused while this holds: acknowledging a post on such a
    store could lose it to the next writer of its key.
    """


class Archived(LogError):
    """The object sits in a cold storage class (Glacier) and must be restored first."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime
    storage_class: str = "STANDARD"


class BaseLog:
    """A durable, append-only object store addressed by string keys."""

    def __init__(self, location: str, options: dict | None = None) -> None:
        self.location = location
        self.options = options or {}

    def check_conditional_writes(self) -> None:
        """Raise UnsafeLog if this log's store would let a write replace another.

        The local and memory logs refuse by construction; S3Log probes its endpoint.
        """

    def create(self, key: str, data: bytes) -> None:
        """Write a new object; raise AlreadyExists if the key is taken.

        Durable on return: the caller may acknowledge whatever the bytes hold.

        If the key already holds exactly these bytes, create() returns as if it
        had written them: S3 cannot tell a retried PUT whose first attempt
        landed from a second writer, so every backend treats identical bytes
        as the same write. Writers racing for a key (res numbers) must
        therefore write bytes unique to them; events carry a unique id.
        """
        raise NotImplementedError

    def create_from_file(self, key: str, fileobj: BinaryIO) -> None:
        """Write a new object streamed from an open binary file (large objects).

        Same promise as create(): never overwrites, durable on return, and
        identical bytes already at the key count as success.
        """
        raise NotImplementedError

    def read(self, key: str) -> bytes:
        """Return the whole object; raise NotFound if there is none."""
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        """Return a readable binary stream of the object, for reading it in pieces."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        """Whether an object is stored at key."""
        raise NotImplementedError

    def readable(self, key: str) -> bool:
        """Whether the object at key can be read now: False while it sits archived (restore it first)."""
        try:
            with self.open(key) as stream:
                stream.read(1)
        except Archived:
            return False
        return True

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        """Yield the objects under prefix in lexicographic key order, lazily."""
        raise NotImplementedError

    def first(self, prefix: str) -> ObjectInfo | None:
        """The first object under prefix in key order, or None: what list() yields first, the rest not fetched."""
        return next(iter(self.list(prefix)), None)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove objects; keys already gone are not an error."""
        raise NotImplementedError

    def replace(self, key: str, data: bytes) -> None:
        """Overwrite a small mutable object (only pointers such as snapshots/LATEST)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the default holds none."""
