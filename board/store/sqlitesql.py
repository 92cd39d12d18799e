"""The SQL of the SQLite store (sqlite.py): its tables, its statements, and its errors as the store's."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any, NoReturn

from board.store.base import StoreError, StoreUnavailable

# Rowid tables, not WITHOUT ROWID: values are posts pages of tens of KB (JSON
# and dat bytes), and SQLite keeps WITHOUT ROWID rows whole in the B-tree, which
# suits rows under a twentieth of a page; large rows write about twice as fast
# here, in 16 KB pages (set when the file is created; an older file keeps its
# layout, and every query works on both).
TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    bucket  TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    value   BLOB    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
)
"""
META = "meta"
PAGE_SIZE = 16384


class Statements:
    """The SQL of one generation's table."""

    __slots__ = ("table", "get", "insert", "replace", "fetch_many", "delete", "any")

    def __init__(self, table: str) -> None:
        self.table = table
        self.get = f"SELECT value, version FROM {table} WHERE bucket = ? AND key = ?"
        self.insert = f"INSERT INTO {table} (bucket, key, value, version) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        self.replace = (
            f"UPDATE {table} SET value = ?, version = version + 1 WHERE bucket = ? AND key = ? AND version = ?"
        )
        self.fetch_many = f"SELECT key, value, version FROM {table} WHERE bucket = ? AND key IN ({{marks}})"
        self.delete = f"DELETE FROM {table} WHERE bucket = ? AND key = ?"
        self.any = f"SELECT 1 FROM {table} LIMIT 1"


# The statements of the generation pointer's row in the meta table (generations.py).
POINTER = Statements(META)

# What a generation without a table yet reads like: empty.
EMPTY = Statements("(SELECT NULL AS bucket, NULL AS key, NULL AS value, NULL AS version WHERE 0)")


def as_bytes(value: Any) -> bytes | memoryview:
    if isinstance(value, bytes | memoryview):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    raise TypeError(f"store values are bytes, not {type(value).__name__}")


def reraise(exc: sqlite3.Error, what: str) -> NoReturn:
    """Raise the store's exception for an sqlite3 one."""
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        raise exc  # a bug in the caller, not a state of the store
    if isinstance(exc, sqlite3.OperationalError):  # "database is locked", disk I/O error, cannot open...
        raise StoreUnavailable(f"sqlite store {what}: {exc}") from exc
    raise StoreError(f"sqlite store {what}: {exc}") from exc  # e.g. "database disk image is malformed"


@contextlib.contextmanager
def translate(what: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        reraise(exc, what)
    except OSError as exc:  # its folder or its -changes file: a path that cannot be made, a read-only disk
        raise StoreUnavailable(f"sqlite store {what}: {exc.strerror or exc} ({exc.filename})") from exc


def prepare(conn: sqlite3.Connection, timeout: float) -> bytes:
    """Switch the file to WAL and create the meta table, waiting out others doing the same.

    Returns the file's own random name, made with it: a file deleted and made
    again at the same path (and inode) is another one.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            # Only takes effect on a new, empty file (before WAL fixes the page size).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            # The store is volatile on purpose: the durable log is the truth and
            # rehydrate rebuilds the store from it. So trade durability for speed:
            # in WAL mode, NORMAL does not fsync on every commit; a power cut may
            # lose the last commits (never corrupt the file), a process crash
            # loses nothing.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(TABLE.format(table=META))
            made = f"SELECT value FROM {META} WHERE bucket = 'meta' AND key = 'file'"
            row = conn.execute(made).fetchone()
            if row is None:  # a new file: the one write a connection makes (and waits for the lock)
                new = f"INSERT INTO {META} VALUES ('meta', 'file', randomblob(16), 0) ON CONFLICT DO NOTHING"
                conn.execute(new)
                row = conn.execute(made).fetchone()
            return row[0]
        except sqlite3.OperationalError as exc:
            # A brand-new file is still in rollback-journal mode, where SQLite
            # answers "locked" at once, without waiting, to a connection that
            # would deadlock with another one converting it to WAL. Retry.
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
