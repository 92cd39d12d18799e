"""The embedded store: one SQLite file, through the stdlib sqlite3 (not Django's ORM).

One table ``kv(bucket, key, value, version)``. The context of a value is its
version: a write without context is an INSERT that refuses an existing key, a
write with context is an UPDATE guarded by ``version = context``. Either way a
lost race is a Conflict and update() retries, so processes and threads sharing
the file never lose a write. SQLite keeps no siblings.

One connection per instance (the backend handler keeps one instance per
thread; an instance is not for two threads at once); a process forked after
the connection was opened gets a new one.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from board.store.base import BaseStore, Conflict, Fetched, StoreError, StoreUnavailable

# A rowid table, not WITHOUT ROWID: values are posts pages of tens of KB (JSON
# and dat bytes), and SQLite keeps WITHOUT ROWID rows whole in the B-tree, which
# suits rows under a twentieth of a page; large rows write about twice as fast
# here, in 16 KB pages (set when the file is created; an older file keeps its
# layout, and every query works on both).
SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    bucket  TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    value   BLOB    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
)
"""
PAGE_SIZE = 16384

GET = "SELECT value, version FROM kv WHERE bucket = ? AND key = ?"
INSERT = "INSERT INTO kv (bucket, key, value, version) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
REPLACE = "UPDATE kv SET value = ?, version = version + 1 WHERE bucket = ? AND key = ? AND version = ?"

# Bound parameters per "key IN (...)" query: far below SQLITE_MAX_VARIABLE_NUMBER
# (999 before SQLite 3.32, 32766 since), and a handful of distinct statement
# shapes for sqlite3's statement cache.
FETCH_CHUNK = 500

# Connections a forked child inherited: never used, and never closed either,
# since closing an inherited connection can touch locks and files the parent
# still relies on. Kept referenced so the garbage collector does not close them.
_inherited: list[sqlite3.Connection] = []


def _as_bytes(value: Any) -> bytes | memoryview:
    if isinstance(value, bytes | memoryview):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    raise TypeError(f"store values are bytes, not {type(value).__name__}")


def _reraise(exc: sqlite3.Error, what: str) -> NoReturn:
    """Raise the store's exception for an sqlite3 one."""
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        raise exc  # a bug in the caller, not a state of the store
    if isinstance(exc, sqlite3.OperationalError):  # "database is locked", disk I/O error, cannot open...
        raise StoreUnavailable(f"sqlite store {what}: {exc}") from exc
    raise StoreError(f"sqlite store {what}: {exc}") from exc  # e.g. "database disk image is malformed"


@contextlib.contextmanager
def _translate(what: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        _reraise(exc, what)


class SQLiteStore(BaseStore):
    """Buckets of bytes in one SQLite file, shared by threads and processes.

    Options (strings, as they come from the URL query): ``timeout`` seconds to
    wait for a lock before StoreUnavailable (default 5); ``batch_size`` writes
    after which a batch() commits and goes on in a new transaction (default
    5000), which bounds the WAL and what an interrupted batch leaves
    uncommitted. Other writers still wait while a batch runs (it takes the
    lock again at once after each commit), so batches are for bulk work such
    as rehydrate, not for the web path.
    """

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        if not location or location == ":memory:" or location.startswith("file:"):
            raise ValueError(f"SQLiteStore needs a file path, not {location!r}")
        self.path = location
        self.timeout = float(self.options.get("timeout", 5))
        self.batch_size = max(1, int(self.options.get("batch_size", 5000)))
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._depth = 0  # nesting of batch()
        self._pending = 0  # writes in the open batch transaction

    # Connection handling.

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            _inherited.append(self._conn)  # opened by the parent before a fork
            self._conn = None
            self._depth = self._pending = 0
        with _translate(f"opening {self.path}"):
            parent = os.path.dirname(self.path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            # The timeout is SQLite's busy_timeout: how long to wait for another
            # connection's lock. isolation_level=None: autocommit, each statement
            # is its own transaction unless batch() opened one explicitly.
            # check_same_thread=False only so that close() may come from another
            # thread: an instance must still not be used by two threads at once.
            conn = sqlite3.connect(self.path, self.timeout, isolation_level=None, check_same_thread=False)
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL and create the table, waiting out others doing the same."""
        deadline = time.monotonic() + self.timeout
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
                conn.execute(SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                # A brand-new file is still in rollback-journal mode, where SQLite
                # answers "locked" at once, without waiting, to a connection that
                # would deadlock with another one converting it to WAL. Retry.
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._pid != os.getpid():
            _inherited.append(conn)
            return
        self._depth = self._pending = 0
        with _translate("closing"):
            if conn.in_transaction:
                conn.execute("COMMIT")
            conn.close()

    # Batches: one transaction for many writes.

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into transactions of up to ``batch_size`` writes (one commit each).

        The transaction is BEGIN IMMEDIATE: it takes the write lock up front, so
        no other connection can write between this one's reads and writes and
        conditional writes stay exact. Other writers wait (up to ``timeout``)
        while a batch runs; readers never wait (WAL) but only see the batch's
        writes once committed. The writes made so far are committed even if the
        block raises: like Riak, the store keeps every write that returned.
        """
        conn = self._db()
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with _translate("starting a batch"):
            conn.execute("BEGIN IMMEDIATE")
        self._depth, self._pending = 1, 0
        try:
            yield
        finally:
            self._depth = self._pending = 0
            if self._conn is conn and self._pid == os.getpid() and conn.in_transaction:
                with _translate("committing a batch"):
                    conn.execute("COMMIT")

    def _wrote(self, conn: sqlite3.Connection) -> None:
        """Count a write inside a batch; commit and reopen the transaction when it is full."""
        self._pending += 1
        if self._pending >= self.batch_size:
            self._pending = 0
            with _translate("committing a batch"):
                if conn.in_transaction:
                    conn.execute("COMMIT")
                conn.execute("BEGIN IMMEDIATE")

    def _resume_batch(self, conn: sqlite3.Connection) -> None:
        """Inside a batch, make sure a transaction is open before writing.

        Some errors (disk full, I/O) make SQLite roll the transaction back; the
        rest of the batch stays grouped rather than silently autocommitting.
        """
        if not conn.in_transaction:
            with _translate("restarting a batch"):
                conn.execute("BEGIN IMMEDIATE")

    # The primitives.

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        try:  # (no context manager on the hot path: it costs more than the query)
            row = conn.execute(GET, (bucket, key)).fetchone()
        except sqlite3.Error as exc:
            _reraise(exc, "fetch")
        if row is None:
            return None
        return Fetched((row[0],), row[1])

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        conn = self._db()
        keys = list(dict.fromkeys(keys))
        found = {}
        with _translate("fetch_many"):
            for start in range(0, len(keys), FETCH_CHUNK):
                chunk = keys[start : start + FETCH_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, value, version FROM kv WHERE bucket = ? AND key IN ({marks})",
                    (bucket, *chunk),
                )
                for key, value, version in rows:
                    found[key] = Fetched((value,), version)
        return found

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        value = _as_bytes(value)
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        if self._depth:
            self._resume_batch(conn)
        try:
            if context is None:
                # A fresh key starts at a random version rather than 1, so a context
                # read before a delete can never match the key created after it.
                changed = conn.execute(INSERT, (bucket, key, value, random.getrandbits(62))).rowcount
            else:
                changed = conn.execute(REPLACE, (value, bucket, key, context)).rowcount
        except sqlite3.Error as exc:
            _reraise(exc, "store")
        if not changed:
            if context is None:
                raise Conflict(f"{bucket}/{key}: exists, and the write gave no context")
            raise Conflict(f"{bucket}/{key}: written or deleted since it was read")
        if self._depth:
            self._wrote(conn)

    def delete(self, bucket: str, key: str) -> None:
        conn = self._db()
        if self._depth:
            self._resume_batch(conn)
        with _translate("delete"):
            conn.execute("DELETE FROM kv WHERE bucket = ? AND key = ?", (bucket, key))
        if self._depth:
            self._wrote(conn)

    def is_empty(self) -> bool:
        conn = self._db()
        with _translate("is_empty"):
            return conn.execute("SELECT 1 FROM kv LIMIT 1").fetchone() is None

    def flush(self) -> None:
        """Delete every row; the file (and its schema) stays."""
        conn = self._db()
        with _translate("flush"):
            conn.execute("DELETE FROM kv")
