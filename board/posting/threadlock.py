"""The thread's posting lock and its numbering hint, in the cache (Redis in production).

What the hint means, and why numbering never depends on either, is
board/posting/numbers.py's docstring. On Redis, taking the lock reads the
hint and giving it up raises the hint, one script each: a post's number
costs two round trips to the cache.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from board.lib.cache import CACHE_ERRORS

logger = logging.getLogger(__name__)

LOCK_TTL = 5  # seconds: longer than one commit, short enough to outlive a crashed holder
LOCK_WAIT = 10.0


def _raise_lua(key: int, arg: int) -> str:
    """Lua raising the hint at KEYS[key] to ARGV[arg] (number), ARGV[arg + 1] (time), expiring after ARGV[arg + 2]."""
    return f"""
local current = tonumber(redis.call('HGET', KEYS[{key}], 'n'))
if not current or current < tonumber(ARGV[{arg}]) then
    redis.call('HSET', KEYS[{key}], 'n', ARGV[{arg}], 't', ARGV[{arg + 1}])
    redis.call('PEXPIRE', KEYS[{key}], ARGV[{arg + 2}])
end
"""


# KEYS[1] the hint; ARGV: number, time (ms), expiry (ms). Writes only a higher number.
RAISE_HINT = _raise_lua(key=1, arg=1)


@dataclass(frozen=True, slots=True)
class Hint:
    number: int
    at_ms: int  # taken before the put that committed number

    def trusted(self, now_ms: int) -> bool:
        return now_ms - self.at_ms < trust_window_ms()


def trust_window_ms() -> int:
    """How long a hint is trusted: half the rollup's grace (see the module docstring)."""
    return settings.ROLLUP_GRACE_SECONDS * 1000 // 2


def _hint_key(board: str, thread: str) -> str:
    return f"utakata:hint:{board}:{thread}"


def redis_backend() -> RedisCache | None:
    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend if isinstance(backend, RedisCache) else None


def read_hint(board: str, thread: str) -> Hint | None:
    """The thread's hint, or None (none kept, or the cache did not answer)."""
    key = _hint_key(board, thread)
    try:
        redis_cache = redis_backend()
        if redis_cache is not None:
            full_key = redis_cache.make_and_validate_key(key)
            number, at_ms = redis_cache._cache.get_client(full_key).hmget(full_key, "n", "t")
            return None if number is None or at_ms is None else Hint(int(number), int(at_ms))
        value = cache.get(key)
    except CACHE_ERRORS as exc:
        logger.warning("numbering: no hint for %s/%s, the cache failed: %s", board, thread, exc)
        return None
    return Hint(*value) if value is not None else None


def raise_hint(board: str, thread: str, hint: Hint, lock: ThreadLock) -> None:
    """Move the thread's hint up to hint; never down, and never on a cache error.

    Redis compares and sets in one script. Other caches (tests, one machine)
    read, compare and set, which is safe only under the thread lock: without
    it, or once it is lost, the hint is left as it is.
    """
    key = _hint_key(board, thread)
    expiry_ms = trust_window_ms()
    try:
        redis_cache = redis_backend()
        if redis_cache is not None:
            full_key = redis_cache.make_and_validate_key(key)
            client = redis_cache._cache.get_client(full_key, write=True)
            client.eval(RAISE_HINT, 1, full_key, hint.number, hint.at_ms, expiry_ms)
            return
        if not lock.held():
            return
        current = cache.get(key)
        if current is None or current[0] < hint.number:
            cache.set(key, (hint.number, hint.at_ms), math.ceil(expiry_ms / 1000))
    except CACHE_ERRORS as exc:
        logger.warning("numbering: hint for %s/%s not written, the cache failed: %s", board, thread, exc)


# KEYS[1] the lock, KEYS[2] the hint; ARGV: token, lock TTL (ms).
# Takes the lock if it is free and answers the hint with it: one round trip, not two.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return redis.call('HMGET', KEYS[2], 'n', 't')
end
return false
"""

# KEYS[1] the lock, KEYS[2] the hint; ARGV: token, then number, time (ms), expiry (ms) or nothing.
# Raises the hint (never lowers it) and frees the lock if it is still ours.
RELEASE = f"""
if ARGV[2] then {_raise_lua(key=2, arg=2)} end
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
end
return 1
"""


class ThreadLock:
    """The thread's posting lock in the cache: a token under a key that expires after LOCK_TTL.

    Correctness never depends on it (see the module docstring), so a poster
    who waited too long, or whose cache is down, goes ahead unlocked rather
    than being refused. Acquiring it also reads the thread's hint (``hint``),
    and releasing it raises the hint: on Redis each is one script, so the
    lock costs two round trips a post.
    """

    def __init__(self, board: str, thread: str) -> None:
        self.board, self.thread = board, thread
        self.key = f"utakata:lock:{board}:{thread}"
        self.token = uuid.uuid4().hex
        self.acquired = False
        self.hint: Hint | None = None
        self.raise_to: Hint | None = None  # the hint its holder leaves behind as it releases

    def acquire(self, wait: float = LOCK_WAIT) -> bool:
        """Wait up to ``wait`` seconds for the lock; read the hint either way (``self.hint``)."""
        deadline = time.monotonic() + wait
        # A holder keeps the lock for one log write (milliseconds): waiters poll at that
        # scale; a 50 ms cap made one busy thread post at a quarter of the bare put rate.
        delay = 0.002
        try:
            self.acquired = self._try()
            while not self.acquired and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 1.5, 0.005)
                self.acquired = self._try()
        except CACHE_ERRORS as exc:
            logger.warning("numbering: posting without the thread lock, the cache failed: %s", exc)
            self.acquired = False
        if not (self.acquired and redis_backend() is not None):  # the script read it with the lock
            self.hint = read_hint(self.board, self.thread)
        return self.acquired

    def _try(self) -> bool:
        redis_cache = redis_backend()
        if redis_cache is None:
            return cache.add(self.key, self.token, LOCK_TTL)
        lock_key, hint_key = self._redis_keys(redis_cache)
        client = redis_cache._cache.get_client(lock_key, write=True)
        found = client.eval(ACQUIRE, 2, lock_key, hint_key, self.token, int(LOCK_TTL * 1000))
        if found is None:
            return False
        number, at_ms = found
        self.hint = None if number is None or at_ms is None else Hint(int(number), int(at_ms))
        return True

    def _redis_keys(self, redis_cache: RedisCache) -> tuple[str, str]:
        hint_key = redis_cache.make_and_validate_key(_hint_key(self.board, self.thread))
        return redis_cache.make_and_validate_key(self.key), hint_key

    def held(self) -> bool:
        """Whether the lock is still ours (it may have expired under a slow commit)."""
        if not self.acquired:
            return False
        try:
            redis_cache = redis_backend()
            if redis_cache is None:
                return cache.get(self.key) == self.token
            lock_key, _ = self._redis_keys(redis_cache)
            return redis_cache._cache.get_client(lock_key).get(lock_key) == self.token.encode()
        except CACHE_ERRORS:
            return False

    def release(self, hint: Hint | None = None) -> None:
        """Raise the thread's hint to ``hint`` (if given), then give the lock up if it is still ours."""
        redis_cache = redis_backend()
        if redis_cache is None:
            if hint is not None:
                raise_hint(self.board, self.thread, hint, self)
            with contextlib.suppress(*CACHE_ERRORS):
                if self.held():
                    cache.delete(self.key)
            return
        if not self.acquired and hint is None:
            return
        raised = (hint.number, hint.at_ms, trust_window_ms()) if hint is not None else ()
        try:
            lock_key, hint_key = self._redis_keys(redis_cache)
            client = redis_cache._cache.get_client(lock_key, write=True)
            client.eval(RELEASE, 2, lock_key, hint_key, self.token, *raised)
        except CACHE_ERRORS as exc:
            logger.warning(
                "numbering: lock or hint of %s/%s not written, the cache failed: %s", self.board, self.thread, exc
            )


@contextlib.contextmanager
def thread_lock(board: str, thread: str) -> Iterator[ThreadLock]:
    """Hold the thread's posting lock if it can be had within LOCK_WAIT; yield the lock (see .acquired).

    The holder sets ``lock.raise_to``; that hint is written as the lock is given up.
    """
    lock = ThreadLock(board, thread)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release(lock.raise_to)
