"""The rollup's spool: the closed hours' events on disk while they are sorted into segments."""

from __future__ import annotations

import contextlib
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from board.events import Event, decode


class Spool:
    """The closed hours' events, on disk: a temporary file of their bytes and a small index.

    Memory holds (id, key, offset, length) per event, not the events, so a
    long tail (rollups stopped for a day) does not have to fit in memory.
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="utakata-rollup-")  # noqa: SIM115 - closed in __exit__
        self.index: dict[datetime, list[tuple[str, str, int, int]]] = defaultdict(list)
        self.offset = 0

    def add(self, hour: datetime, event_id: str, key: str, data: bytes) -> None:
        self.file.write(data)
        self.index[hour].append((event_id, key, self.offset, len(data)))
        self.offset += len(data)

    def hours(self) -> list[datetime]:
        return sorted(self.index)

    def count(self, hour: datetime) -> int:
        return len(self.index[hour])

    def entries(self, hour: datetime) -> list[tuple[str, str, int, int]]:
        entries = self.index[hour]
        entries.sort()
        return entries

    def read(self, entries: list[tuple[str, str, int, int]]) -> Iterator[tuple[str, Event]]:
        """(key, event) for each entry, in the entries' order (id order once sorted)."""
        self.file.flush()
        for _, key, offset, length in entries:
            self.file.seek(offset)
            yield key, decode(self.file.read(length))
        self.file.seek(0, 2)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
