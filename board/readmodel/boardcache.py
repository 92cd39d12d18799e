"""Boards' settings kept in the process for a moment: every page reads them, and they rarely change.

A change reaches every process within settings.SETTINGS_TTL seconds; the
process that applies a settings event forgets the old ones at once. The
cache is bounded (a board's settings are a few hundred bytes).
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from board.store import BaseStore

ENTRIES = 1024  # boards a process keeps at most

_kept: dict[tuple, tuple[float, tuple[dict, str]]] = {}
_lock = threading.Lock()


def _slot(store: BaseStore, name: str) -> tuple:
    return (type(store).__name__, store.location, store.model, store.pinned, name)


def get(store: BaseStore, name: str) -> tuple[dict, str] | None:
    found = _kept.get(_slot(store, name))
    if found is None or found[0] <= time.monotonic():
        return None
    return found[1]


def put(store: BaseStore, name: str, value: tuple[dict, str]) -> None:
    with _lock:
        if len(_kept) >= ENTRIES:
            _kept.clear()
        _kept[_slot(store, name)] = (time.monotonic() + settings.SETTINGS_TTL, value)


def forget(name: str | None = None) -> None:
    """Drop kept settings (of one board, or all): this process just changed them."""
    with _lock:
        for slot in [s for s in _kept if name is None or s[-1] == name]:
            del _kept[slot]
