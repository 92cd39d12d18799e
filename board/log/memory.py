"""The in-memory log: the tests' twin of S3, shared like Django's locmem cache.

State lives in a module-level dict keyed by ``location``, so every instance and
every thread naming the same location sees the same objects. One lock guards
it all; ``forget_all()`` wipes every location (the test fixture calls it).
"""

from __future__ import annotations

import bisect
import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from board.log.base import AlreadyExists, Archived, BaseLog, NotFound, ObjectInfo

COLD_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass(slots=True)
class _Object:
    data: bytes
    modified: datetime
    storage_class: str = "STANDARD"


@dataclass(slots=True)
class _Bucket:
    objects: dict[str, _Object] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted, for list()


_buckets: dict[str, _Bucket] = {}
_lock = threading.Lock()


class MemoryLog(BaseLog):
    """A durable-log twin in process memory (``memory://<name>``); nothing survives the process."""

    @classmethod
    def forget_all(cls) -> None:
        """Drop every location's objects (instances keep working, on an empty log)."""
        with _lock:
            _buckets.clear()

    @property
    def _bucket(self) -> _Bucket:
        # Looked up on every use (always under _lock) so that forget_all()
        # empties the log for instances that already exist too.
        return _buckets.setdefault(self.location, _Bucket())

    # --- writes -----------------------------------------------------------

    def create(self, key: str, data: bytes) -> None:
        data = bytes(data)
        with _lock:
            bucket = self._bucket
            existing = bucket.objects.get(key)
            if existing is not None:
                if existing.data == data:
                    return  # the same bytes: a retried write, already done
                raise AlreadyExists(f"memory log {self.location!r}: {key!r} already exists")
            bucket.objects[key] = _Object(data, _now())
            bisect.insort(bucket.keys, key)

    def create_from_file(self, key: str, fileobj: BinaryIO) -> None:
        buffer = io.BytesIO()
        while chunk := fileobj.read(1 << 20):
            buffer.write(chunk)
        self.create(key, buffer.getvalue())

    def replace(self, key: str, data: bytes) -> None:
        data = bytes(data)
        with _lock:
            bucket = self._bucket
            if key not in bucket.objects:
                bisect.insort(bucket.keys, key)
            bucket.objects[key] = _Object(data, _now())

    def delete(self, keys: Iterable[str]) -> None:
        # The lock is taken per key: keys may be a generator over this very log.
        for key in keys:
            with _lock:
                bucket = self._bucket
                if bucket.objects.pop(key, None) is not None:
                    del bucket.keys[bisect.bisect_left(bucket.keys, key)]

    def archive(self, key: str, storage_class: str = "GLACIER") -> None:
        """Tests only: move an object to a storage class, as a lifecycle rule would."""
        with _lock:
            obj = self._bucket.objects.get(key)
            if obj is None:
                raise NotFound(f"memory log {self.location!r}: no object {key!r}")
            obj.storage_class = storage_class

    # --- reads ------------------------------------------------------------

    def read(self, key: str) -> bytes:
        with _lock:
            obj = self._bucket.objects.get(key)
            if obj is None:
                raise NotFound(f"memory log {self.location!r}: no object {key!r}")
            if obj.storage_class in COLD_STORAGE_CLASSES:
                raise Archived(
                    f"memory log {self.location!r}: {key!r} is in {obj.storage_class}; restore it before reading"
                )
            return obj.data

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read(key))

    def exists(self, key: str) -> bool:
        with _lock:
            return key in self._bucket.objects

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        # Lazy: each step re-finds its place after the last key yielded, so
        # writes made while the caller iterates neither break nor repeat it.
        if start_after >= prefix:
            last, inclusive = start_after, False
        else:
            last, inclusive = prefix, True
        while True:
            with _lock:
                keys = self._bucket.keys
                index = bisect.bisect_left(keys, last) if inclusive else bisect.bisect_right(keys, last)
                if index >= len(keys) or not keys[index].startswith(prefix):
                    return
                key = keys[index]
                obj = self._bucket.objects[key]
                info = ObjectInfo(key, len(obj.data), obj.modified, obj.storage_class)
            yield info
            last, inclusive = key, False


def _now() -> datetime:
    return datetime.now(UTC)
