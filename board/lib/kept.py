"""Values a process keeps for its next requests, bounded by their size in bytes, not their number."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Kept:
    """Values kept in this process under keys, bounded by their size in bytes (the oldest go first).

    Reads take no lock (a dict read is atomic); a value must never be changed once kept.
    """

    def __init__(self, limit: int, size: Callable[[object], int]) -> None:
        self.limit = limit
        self.size = size
        self.items: OrderedDict[Hashable, object] = OrderedDict()
        self.used = 0
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        return self.items.get(key)

    def put(self, key: Hashable, value: object) -> None:
        size = self.size(value)
        if size > self.limit // 4:
            return  # one value may not push out everything else
        with self.lock:
            old = self.items.pop(key, None)
            self.used += size - (self.size(old) if old is not None else 0)
            self.items[key] = value
            while self.used > self.limit and self.items:
                _, dropped = self.items.popitem(last=False)
                self.used -= self.size(dropped)
