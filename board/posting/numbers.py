"""Res numbers and thread keys: unique and gapless, on the durable log alone.

Uniqueness is the log's job. A numbered post is committed under a key made
of its number (board/log/layout.py), its *claim*, with a put that refuses to
overwrite, so the log itself refuses a second post 5, whatever Redis knows.
That holds only while the claim is there, so numbering never starts below a
claim that may be gone. The volatile store is never asked: it may lag (a
stale Riak read) or have lost writes (SQLite in a power cut), and a number
taken from it may be one whose claim the rollup already deleted, which the
put would then accept a second time.

Where to start is read from the log: the rollup keeps each live thread's
highest claim in incoming/ (marked ``.rolled`` once its event is in hourly/,
board/lifecycle/rollup.py), so listing ``incoming/posts/<board>/<thread>/``
(S3 lists consistently) shows the highest number committed. A thread with no
claim at all is archived and rolled up, or never existed: NotInLog.

The cache (Redis in production) saves that listing on busy threads. It keeps
a hint, (number, time), and the hint is trusted only while younger than half
of settings.ROLLUP_GRACE_SECONDS. Numbers are taken in order, so a number
above the hint was chosen, and its event stamped, after the hint's time; the
rollup deletes a claim only once the hour of its event closed a grace period
ago. So no claim above a fresh hint can be gone, and walking forward from it
steps over every taken number. The time is the one before the put that took
the number, not the time the hint is written, so a commit that stalls before
writing its hint cannot pass an old number off as fresh; the other half of
the grace is the allowance for clocks that disagree. The hint only moves up
(a compare-and-set in Redis), and expires when it stops being trusted.

Gapless follows from trying ``highest committed + 1`` and moving on only past
numbers the log says are taken: a number is used up only by a commit that
succeeded. A short per-thread lock in the cache makes a burst of posters
queue instead of racing. Nothing here depends on the cache answering: a
cache that fails is a hint miss and no lock, and the log still refuses
duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from board.events import Event, encode
from board.lib.cache import CACHE_ERRORS
from board.log import AlreadyExists, BaseLog
from board.log.layout import incoming_key, parse_post_key, thread_prefix

logger = logging.getLogger(__name__)

LOCK_TTL = 5  # seconds: longer than one commit, short enough to outlive a crashed holder
LOCK_WAIT = 10.0
# Thread keys are tried from the clock's second up to this many seconds ahead of it.
KEY_WINDOW = 100

# KEYS[1] the hint; ARGV: number, time (ms), expiry (ms). Writes only a higher number.
RAISE_HINT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'n'))
if current and current >= tonumber(ARGV[1]) then
    return 0
end
redis.call('HSET', KEYS[1], 'n', ARGV[1], 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class NotInLog(Exception):
    """The thread has no claim in the log: archived and rolled up, or it never existed."""


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


def _redis() -> RedisCache | None:
    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend if isinstance(backend, RedisCache) else None


def read_hint(board: str, thread: str) -> Hint | None:
    """The thread's hint, or None (none kept, or the cache did not answer)."""
    key = _hint_key(board, thread)
    try:
        redis_cache = _redis()
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
        redis_cache = _redis()
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


def highest_claimed(log: BaseLog, board: str, thread: str) -> int | None:
    """The highest number the log shows taken in the thread (claims and markers), None if none."""
    highest = None
    for info in log.list(thread_prefix(board, thread)):
        parsed = parse_post_key(info.key)
        if parsed is not None and (highest is None or parsed.number > highest):
            highest = parsed.number
    return highest


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
RELEASE = """
if ARGV[2] then
    local current = tonumber(redis.call('HGET', KEYS[2], 'n'))
    if not current or current < tonumber(ARGV[2]) then
        redis.call('HSET', KEYS[2], 'n', ARGV[2], 't', ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
    end
end
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
        if not (self.acquired and _redis() is not None):  # the script read it with the lock
            self.hint = read_hint(self.board, self.thread)
        return self.acquired

    def _try(self) -> bool:
        redis_cache = _redis()
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
            redis_cache = _redis()
            if redis_cache is None:
                return cache.get(self.key) == self.token
            lock_key, _ = self._redis_keys(redis_cache)
            return redis_cache._cache.get_client(lock_key).get(lock_key) == self.token.encode()
        except CACHE_ERRORS:
            return False

    def release(self, hint: Hint | None = None) -> None:
        """Raise the thread's hint to ``hint`` (if given), then give the lock up if it is still ours."""
        redis_cache = _redis()
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


def _has_claims(log: BaseLog, board: str, thread: str) -> bool:
    listing = log.list(thread_prefix(board, thread))
    return next(iter(listing), None) is not None


def first_number(log: BaseLog, board: str, thread: str, hint: Hint | None) -> int:
    """The number to try first: after a trusted hint, else after the highest the log shows."""
    if hint is not None and hint.trusted(int(time.time() * 1000)):
        return hint.number + 1
    highest = highest_claimed(log, board, thread)
    if highest is None:
        raise NotInLog(f"no claim of thread {board}/{thread} in the log: archived and rolled up, or never made")
    return highest + 1


Put = Callable[[str, bytes], None]


def commit_numbered(
    log: BaseLog,
    board: str,
    thread: str,
    build: Callable[[int], Event],
    limit: int,
    put: Put | None = None,
) -> Event | None:
    """Commit build(n) for the lowest free number n > every committed one.

    Returns the committed event, or None when the next number would exceed
    limit (the thread is full). Raises NotInLog when the log holds no claim
    of the thread (it takes no posts). ``put`` writes a claim (default
    log.create; the write path passes one with a deadline, board/posting/confirm.py):
    it returns once written and raises AlreadyExists when the key is taken.
    """
    put = put or log.create
    with thread_lock(board, thread) as lock:
        number = first_number(log, board, thread, lock.hint)
        while number <= limit:
            event = build(number)
            started_ms = int(time.time() * 1000)
            try:
                put(incoming_key(event), encode(event))
            except AlreadyExists:
                number += 1
                continue
            lock.raise_to = Hint(number, started_ms)
            return event
        lock.raise_to = Hint(limit, int(time.time() * 1000))
        return None


def commit_thread(
    log: BaseLog,
    now_seconds: int,
    build: Callable[[str], Event],
    attempts: int = KEY_WINDOW,
    put: Put | None = None,
) -> Event:
    """Commit a thread's first post under the lowest free key >= now_seconds (``put`` as in commit_numbered).

    2ch thread keys are the creation time in seconds; two threads in the same
    second on one board take consecutive keys, decided by the conditional put
    on the first post's claim. The store is not asked whether a key is taken;
    the log answers for every thread that ever had the key:

    - a live thread keeps its highest claim in incoming/ (the rollup never
      deletes it), so a key with anything under its thread prefix is skipped
      without trying: its first post's claim may be rolled up, its thread is not;
    - an archived thread loses all its claims, but only through a rollup at
      least ROLLUP_GRACE_SECONDS after its first post was stamped, and a key
      runs at most KEY_WINDOW seconds ahead of the clock that stamped it: by
      then no clock tries that key any more. Settings refuse a grace below
      twice the window, which leaves one window for clocks that disagree.
    """
    for key in range(now_seconds, now_seconds + attempts):
        event = build(str(key))
        assert event.thread is not None
        if _has_claims(log, event.board, event.thread):
            continue
        try:
            (put or log.create)(incoming_key(event), encode(event))
        except AlreadyExists:
            continue
        return event
    raise AlreadyExists(f"no free thread key in {now_seconds}..{now_seconds + attempts - 1}")
