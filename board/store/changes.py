"""What a store's process keeps of its reads, and how it knows, without a statement, they are current.

In a threaded web worker each SQLite statement costs about 90 µs of CPU (the
sqlite3 module lets go of the GIL around every step, and the other threads
take it), against 5 µs in a loop: a dat poll answered from the store paid
more for its one statement than for the rest of the request. So a process
keeps what it read, and checks it against *change tokens*: a small file beside
the database (``<file>-changes``), mapped into every process that opens the
store, of SLOTS 8-byte tokens. A key's slot is chosen by a stable hash of its
bucket and key. Every write, once committed, puts a new random token into its
key's slot; a reader takes the slot's token *before* it reads, and what it
read stays current while the slot holds that token. Reading a token is a load
from shared memory: no system call, no lock, the GIL kept.

Keys share slots (a write to one makes the others be read again: a read more,
never a stale answer). A writer that dies between its commit and its token,
or a program writing the file without this module, leaves a value kept for
at most MAX_AGE seconds, as the proxy in front keeps a dat.

A Riak store keeps its reads the same way, with its tokens in Redis, where
every machine's writers reach them (board/store/redistokens.py).
"""

from __future__ import annotations

import mmap
import os
import random
import struct
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Protocol

from board.store.base import Fetched

SLOTS = 8192
TOKEN = struct.Struct("=Q")
#: Seconds a kept read is trusted even while its token holds (a writer that died between commit and token).
MAX_AGE = 1.0


def slot_of(bucket: str, key: str) -> int:
    """A key's slot: the same in every process (str hash() is salted per process)."""
    return zlib.crc32(key.encode(), zlib.crc32(bucket.encode())) % SLOTS


class ChangeTokens:
    """The token file of one database, mapped into this process."""

    def __init__(self, fd: int) -> None:
        if os.fstat(fd).st_size < SLOTS * TOKEN.size:
            # Every process may do this at once: growing to the same size is harmless, and
            # never shrinks a file another process has already mapped.
            os.ftruncate(fd, SLOTS * TOKEN.size)
        self._map = mmap.mmap(fd, SLOTS * TOKEN.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # Aligned 8-byte loads and stores: a reader never sees half a token.
        self.tokens = memoryview(self._map).cast("Q")

    def token(self, slot: int) -> int:
        """The slot's token now."""
        return self.tokens[slot]

    def token_many(self, slots: Iterable[int]) -> list[int]:
        """The tokens of slots, in their order."""
        tokens = self.tokens
        return [tokens[slot] for slot in slots]

    def changed(self, slots: Iterable[int]) -> None:
        """Give each slot a new token: call after the writes to their keys are committed."""
        tokens = self.tokens
        for slot in slots:
            tokens[slot] = random.getrandbits(64)


class Tokens(Protocol):
    """Where a store's change tokens are: a mapped file (ChangeTokens), or Redis (board/store/redistokens.py)."""

    def token(self, slot: int) -> Hashable | None: ...

    def token_many(self, slots: Iterable[int]) -> list | None: ...

    def changed(self, slots: Iterable[int]) -> None: ...


class KeptReads:
    """Values one process read from one store, each under the token it was read under.

    Bounded by the bytes of the values kept (the oldest go first). Reads take no lock.
    A token source that cannot say (None) keeps nothing and serves nothing kept.
    """

    def __init__(self, tokens: Tokens, limit: int) -> None:
        self.tokens = tokens
        self.limit = limit
        self.items: OrderedDict[Hashable, tuple[Hashable, float, Fetched | None, int]] = OrderedDict()
        self.used = 0
        self.lock = threading.Lock()

    def fetch(self, generation: int, bucket: str, key: str, read: Callable[[], Fetched | None]) -> Fetched | None:
        """What bucket/key holds in a generation: kept, or read() and kept."""
        token = self.tokens.token(slot_of(bucket, key))  # before any read: a write committed after it changes it
        if token is None:
            return read()
        hit, value = self._get((generation, bucket, key), token)
        if hit:
            return value
        value = read()
        self._put(generation, bucket, key, token, value)
        return value

    def fetch_many(
        self, generation: int, bucket: str, keys: list[str], read: Callable[[list[str]], dict[str, Fetched]]
    ) -> dict[str, Fetched]:
        """What each of keys holds, absent ones left out: the kept ones, and read(the others) in one call."""
        tokens = self.tokens.token_many([slot_of(bucket, key) for key in keys])
        if tokens is None:
            return read(keys)
        found: dict[str, Fetched] = {}
        missing: dict[str, Hashable] = {}  # key: its slot's token before the read
        for key, token in zip(keys, tokens, strict=True):
            hit, value = self._get((generation, bucket, key), token)
            if not hit:
                missing[key] = token
            elif value is not None:
                found[key] = value
        if missing:
            read_now = read(list(missing))
            for key, token in missing.items():
                value = read_now.get(key)
                if value is not None:
                    found[key] = value
                self._put(generation, bucket, key, token, value)
        return found

    def _get(self, name: Hashable, token: Hashable) -> tuple[bool, Fetched | None]:
        """(True, value) if a read of name is kept under token and young enough, else (False, None)."""
        kept = self.items.get(name)
        if kept is None:
            return False, None
        kept_token, read_at, value, _ = kept
        if kept_token != token or time.monotonic() - read_at > MAX_AGE:
            return False, None
        return True, value

    def _put(self, generation: int, bucket: str, key: str, token: Hashable, value: Fetched | None) -> None:
        # The entry's own bytes count too (keys come from requests: a miss keeps an absence).
        size = 100 + len(bucket) + len(key) + (sum(len(v) for v in value.values) if value is not None else 0)
        name = (generation, bucket, key)
        if size > self.limit // 8:
            return  # one value may not push out everything else
        with self.lock:
            old = self.items.pop(name, None)
            self.used += size - (old[3] if old is not None else 0)
            self.items[name] = (token, time.monotonic(), value, size)
            while self.used > self.limit and self.items:
                _, dropped = self.items.popitem(last=False)
                self.used -= dropped[3]


# Held weakly: gone with the last store instance using them. Named by the files'
# identities, so a database or token file deleted and made again is never
# mistaken for the one a process mapped or read before.
_opened: weakref.WeakValueDictionary[tuple, ChangeTokens] = weakref.WeakValueDictionary()
_kept: weakref.WeakValueDictionary[tuple, KeptReads] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def tokens_for(database: str) -> ChangeTokens:
    """The change tokens of a database file (``<file>-changes``, made if missing), mapped once per process."""
    fd = os.open(database + "-changes", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        found = os.fstat(fd)
        name = (os.getpid(), found.st_dev, found.st_ino)
        with _lock:
            tokens = _opened.get(name)
            if tokens is None:
                tokens = _opened[name] = ChangeTokens(fd)
    finally:
        os.close(fd)
    return tokens


def kept_for(database: Hashable, tokens: Tokens, limit: int) -> KeptReads:
    """The reads this process keeps of a database, named by the random name it was made with (or its location).

    One per database, token source and limit, shared by the process's threads.
    """
    name = (os.getpid(), database, id(tokens), limit)
    with _lock:
        kept = _kept.get(name)
        if kept is None:
            kept = _kept[name] = KeptReads(tokens, limit)
    return kept
