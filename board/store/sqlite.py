"""The embedded store: one SQLite file, through the stdlib sqlite3 (not Django's ORM).

One table per generation, ``kv_m<model>_g<n>(bucket, key, value, version)``,
and a ``meta`` table for the generation pointer (see generations.py). The
context of a value is its version: a write without context is an INSERT
that refuses an existing key, a write with context is an UPDATE guarded by
``version = context``. Either way a lost race is a Conflict and update()
retries, so processes and threads sharing the file never lose a write.
SQLite keeps no siblings.

One connection per instance (the backend handler keeps one instance per
thread; an instance is not for two threads at once); a process forked after
the connection was opened gets a new one.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from board.lib.backends import option
from board.store.base import BaseStore, Conflict, Fetched
from board.store.changes import ChangeTokens, KeptReads, kept_for, slot_of, tokens_for
from board.store.sqlitesql import EMPTY, META, POINTER, TABLE, Statements, as_bytes, prepare, reraise, translate

# Bound parameters per "key IN (...)" query: far below SQLITE_MAX_VARIABLE_NUMBER
# (999 before SQLite 3.32, 32766 since), and a handful of distinct statement
# shapes for sqlite3's statement cache.
FETCH_CHUNK = 500

# Bytes of values each process keeps of its reads (changes.py): the hot objects a
# poll reads, a thread's index and its last page, not the board.
READ_CACHE = 4 * 1024 * 1024

# Connections a forked child inherited: never used, and never closed either,
# since closing an inherited connection can touch locks and files the parent
# still relies on. Kept referenced so the garbage collector does not close them.
_inherited: list[sqlite3.Connection] = []


class SQLiteStore(BaseStore):
    """Buckets of bytes in one SQLite file, shared by threads and processes.

    Options (strings, as they come from the URL query): ``timeout`` seconds to
    wait for a lock before StoreUnavailable (default 5); ``batch_size`` writes
    after which a batch() commits and goes on in a new transaction (default
    5000), which bounds the WAL and what an interrupted batch leaves
    uncommitted. Other writers still wait while a batch runs (it takes the
    lock again at once after each commit), so batches are for bulk work such
    as rehydrate, not for the web path. ``read_cache`` bytes of values each
    process keeps of its reads, checked against the file's change tokens
    before use (default 4 MiB; 0 reads every time, see changes.py).
    """

    KNOWN_OPTIONS = BaseStore.KNOWN_OPTIONS | {"timeout", "batch_size", "read_cache"}
    KIND = "SQLite store"

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        if not location or location == ":memory:" or location.startswith("file:"):
            raise ValueError(f"SQLiteStore needs a file path, not {location!r}")
        self.path = location
        self.timeout = option(self.options, "timeout", 5.0, float, self.KIND, zero=True)
        self.batch_size = option(self.options, "batch_size", 5000, int, self.KIND)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._depth = 0  # nesting of batch()
        self._pending = 0  # writes in the open batch transaction
        self._tables: dict[int, Statements] = {}  # generations whose table this connection has made sure of
        self.read_cache = option(self.options, "read_cache", READ_CACHE, int, self.KIND, zero=True)
        self._tokens: ChangeTokens | None = None
        self._kept: KeptReads | None = None
        self._changed: set[int] = set()  # slots written in the open batch transaction, given tokens at its commit

    # Connection handling.

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            _inherited.append(self._conn)  # opened by the parent before a fork
            self._conn = None
            self._depth = self._pending = 0
            self._changed.clear()
        self._tables = {}
        with translate(f"opening {self.path}"):
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
                made = prepare(conn, self.timeout)
                # The tokens and kept reads of the file this connection opened (changes.py).
                tokens = tokens_for(self.path)
                kept = kept_for(made, tokens, self.read_cache) if self.read_cache > 0 else None
            except BaseException:
                conn.close()
                raise
        self._conn, self._pid, self._tokens, self._kept = conn, os.getpid(), tokens, kept
        return conn

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        return conn

    def close(self) -> None:
        super().close()
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._pid != os.getpid():
            _inherited.append(conn)
            return
        self._depth = self._pending = 0
        try:
            with translate("closing"):
                if conn.in_transaction:
                    conn.execute("COMMIT")
                conn.close()
        finally:
            self._announce()

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
        with translate("starting a batch"):
            conn.execute("BEGIN IMMEDIATE")
        self._depth, self._pending = 1, 0
        try:
            yield
        finally:
            self._depth = self._pending = 0
            try:
                if self._conn is conn and self._pid == os.getpid() and conn.in_transaction:
                    with translate("committing a batch"):
                        conn.execute("COMMIT")
            finally:
                self._announce()

    def _wrote(self, conn: sqlite3.Connection) -> None:
        """Count a write inside a batch; commit and reopen the transaction when it is full."""
        self._pending += 1
        if self._pending >= self.batch_size:
            self._pending = 0
            try:
                with translate("committing a batch"):
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            finally:
                self._announce()
            with translate("committing a batch"):
                conn.execute("BEGIN IMMEDIATE")

    def _resume_batch(self, conn: sqlite3.Connection) -> None:
        """Inside a batch, make sure a transaction is open before writing.

        Some errors (disk full, I/O) make SQLite roll the transaction back; the
        rest of the batch stays grouped rather than silently autocommitting.
        """
        if not conn.in_transaction:
            with translate("restarting a batch"):
                conn.execute("BEGIN IMMEDIATE")

    # Generations: one table each.

    def _table_name(self, generation: int) -> str:
        return f"kv_m{self.model}_g{generation}"

    def _sql(self, conn: sqlite3.Connection, generation: int | None = None, create: bool = True) -> Statements:
        """The statements of a generation's table (the current one by default).

        The table is made by the first write to it; a read of a generation
        with no table yet gets the statements of an empty one (no lock taken:
        even CREATE TABLE IF NOT EXISTS waits for a writer's lock).
        """
        generation = self.generation() if generation is None else generation
        sql = self._tables.get(generation)
        if sql is not None:
            return sql
        sql = Statements(self._table_name(generation))
        with translate("opening a generation's table"):
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (sql.table,))
            if exists.fetchone() is None:
                if not create:
                    return EMPTY
                conn.execute(TABLE.format(table=sql.table))
        self._tables[generation] = sql
        return sql

    def _create_generation(self, generation: int) -> None:
        self._sql(self._db(), generation)

    def _drop_generation(self, generation: int) -> None:
        conn = self._db()
        with translate("dropping a generation"):
            conn.execute(f"DROP TABLE IF EXISTS {self._table_name(generation)}")
            if generation == 1:
                conn.execute("DROP TABLE IF EXISTS kv")  # the single table of files made before generations
        self._tables.pop(generation, None)

    def _stale(self, exc: sqlite3.Error) -> bool:
        """Whether a statement failed because another process retired the generation this one still used."""
        if not (isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)):
            return False
        self._tables.clear()
        self.pointer()
        return True

    def _meta_fetch(self, key: str) -> Fetched | None:
        conn = self._db()
        with translate("reading the generation pointer"):
            row = conn.execute(POINTER.get, (META, key)).fetchone()
        return None if row is None else Fetched((row[0],), row[1])

    def _meta_store(self, key: str, value: bytes, context: Any) -> None:
        conn = self._db()
        with translate("writing the generation pointer"):
            if context is None:
                changed = conn.execute(POINTER.insert, (META, key, value, random.getrandbits(62))).rowcount
            else:
                changed = conn.execute(POINTER.replace, (value, META, key, context)).rowcount
        if not changed:
            raise Conflict(f"{META}/{key}: written since it was read")

    def items(self) -> Iterator[tuple[str, str, tuple[bytes, ...]]]:
        """Every object of the current generation by bucket and key, with its values (SQLite can list; Riak cannot)."""
        conn = self._db()
        sql = self._sql(conn, create=False)
        with translate("listing"):
            for bucket, key, value in conn.execute(f"SELECT bucket, key, value FROM {sql.table} ORDER BY bucket, key"):
                yield bucket, key, (value,)

    # What this process keeps of its reads (changes.py).

    def _kept_reads(self) -> KeptReads | None:
        """This process's kept reads of the file; None in a batch (its writes are not committed yet)."""
        if self._depth:
            return None
        if self._conn is None or self._pid != os.getpid():
            self._connect()
        return self._kept

    def fetch_to_write(self, bucket: str, key: str) -> Fetched | None:
        # Never a kept read: one up to MAX_AGE stale could make an idempotent re-apply see "nothing to change".
        return self._read(bucket, key, self.generation())

    def fetch_many_to_write(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        # Never kept reads, as fetch_to_write.
        return self._read_many(bucket, list(dict.fromkeys(keys)), self.generation())

    def _wrote_key(self, bucket: str, key: str) -> None:
        """A write to bucket/key returned: give its slot a new token, at once or when the batch commits."""
        if self._depth:
            self._changed.add(slot_of(bucket, key))
        elif self._tokens is not None:
            self._tokens.changed((slot_of(bucket, key),))

    def _announce(self) -> None:
        """The batch transaction committed (or ended): new tokens for every slot it wrote."""
        if self._changed and self._tokens is not None:
            changed, self._changed = self._changed, set()
            self._tokens.changed(changed)

    # The primitives.

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        generation = self.generation()
        kept = self._kept_reads()
        if kept is None:
            return self._read(bucket, key, generation)
        return kept.fetch(generation, bucket, key, lambda: self._read(bucket, key, generation))

    def _read(self, bucket: str, key: str, generation: int) -> Fetched | None:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        for attempt in (0, 1):
            sql = self._sql(conn, generation if not attempt else None, create=False)
            try:  # (no context manager on the hot path: it costs more than the query)
                row = conn.execute(sql.get, (bucket, key)).fetchone()
                break
            except sqlite3.Error as exc:
                if attempt or not self._stale(exc):
                    reraise(exc, "fetch")
        if row is None:
            return None
        return Fetched((row[0],), row[1])

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        keys = list(dict.fromkeys(keys))
        if len(keys) == 1:  # a poll's one page: the prepared statement of fetch, not one built for a list
            found = self.fetch(bucket, keys[0])
            return {} if found is None else {keys[0]: found}
        generation = self.generation()
        kept = self._kept_reads()
        if kept is None:
            return self._read_many(bucket, keys, generation)
        return kept.fetch_many(generation, bucket, keys, lambda missing: self._read_many(bucket, missing, generation))

    def _read_many(self, bucket: str, keys: list[str], generation: int) -> dict[str, Fetched]:
        conn = self._db()
        for attempt in (0, 1):
            sql = self._sql(conn, generation if not attempt else None, create=False)
            found = {}
            try:
                for start in range(0, len(keys), FETCH_CHUNK):
                    chunk = keys[start : start + FETCH_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for key, value, version in conn.execute(sql.fetch_many.format(marks=marks), (bucket, *chunk)):
                        found[key] = Fetched((value,), version)
                return found
            except sqlite3.Error as exc:
                if attempt or not self._stale(exc):
                    reraise(exc, "fetch_many")
        raise AssertionError("unreachable")

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        value = as_bytes(value)
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            conn = self._connect()
        if self._depth:
            self._resume_batch(conn)
        for attempt in (0, 1):
            sql = self._sql(conn)
            try:
                if context is None:
                    # A fresh key starts at a random version rather than 1, so a context
                    # read before a delete can never match the key created after it.
                    changed = conn.execute(sql.insert, (bucket, key, value, random.getrandbits(62))).rowcount
                else:
                    changed = conn.execute(sql.replace, (value, bucket, key, context)).rowcount
                break
            except sqlite3.Error as exc:
                if attempt or not self._stale(exc):
                    reraise(exc, "store")
        if not changed:
            # What this process read of the key is stale: perhaps the writer it lost to died before its token.
            self._wrote_key(bucket, key)
            if context is None:
                raise Conflict(f"{bucket}/{key}: exists, and the write gave no context")
            raise Conflict(f"{bucket}/{key}: written or deleted since it was read")
        self._wrote_key(bucket, key)
        if self._depth:
            self._wrote(conn)

    def delete(self, bucket: str, key: str) -> None:
        conn = self._db()
        if self._depth:
            self._resume_batch(conn)
        sql = self._sql(conn)
        with translate("delete"):
            conn.execute(sql.delete, (bucket, key))
        self._wrote_key(bucket, key)
        if self._depth:
            self._wrote(conn)

    def is_empty(self) -> bool:
        conn = self._db()
        sql = self._sql(conn, create=False)
        with translate("is_empty"):
            return conn.execute(sql.any).fetchone() is None
