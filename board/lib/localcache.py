"""The cache of one machine without Redis: Django's database cache in a local SQLite file.

Unlike the file cache it adds atomically (an INSERT under SQLite's write lock),
which the thread lock and the cooldown need across local processes. It makes
its table the first time a process uses it, so no setup step is needed.
"""

from __future__ import annotations

import contextlib
import threading

from django.core.cache.backends.db import DatabaseCache
from django.core.management import CommandError, call_command
from django.db import DatabaseError

_made: set[str] = set()
_lock = threading.Lock()


class LocalDatabaseCache(DatabaseCache):
    def _ensure_table(self) -> None:
        if self._table in _made:
            return
        with _lock:
            if self._table not in _made:
                # Another process may make it at the same moment: the command then fails with
                # "already exists", as a DatabaseError or wrapped in a CommandError.
                with contextlib.suppress(DatabaseError, CommandError):
                    call_command("createcachetable", database="cache", verbosity=0)
                _made.add(self._table)

    def get_many(self, keys, version=None):
        self._ensure_table()
        return super().get_many(keys, version)

    def _base_set(self, mode, key, value, timeout=None):
        self._ensure_table()
        return super()._base_set(mode, key, value, timeout)

    def _base_delete_many(self, keys):
        self._ensure_table()
        return super()._base_delete_many(keys)

    def has_key(self, key, version=None):
        self._ensure_table()
        return super().has_key(key, version)

    def clear(self):
        self._ensure_table()
        return super().clear()
