"""Res numbers and thread keys: unique and gapless, whatever number of processes post.

Uniqueness is not Redis's job. A numbered post is committed under a key made
of its number (board/log/layout.py) with a put that refuses to overwrite, so
the log itself refuses a second post 5. The cache (Redis in production) only
keeps the highest number known to be committed, as a hint, and a short
per-thread lock so that a burst of posters queues instead of racing.

Gapless follows from trying ``highest known committed + 1`` and moving on only
past numbers the log says are taken: a number is used up only by a commit that
succeeded. After Redis loses its keys the hint restarts from the store's count,
which may lag; the conditional put then walks forward over the taken numbers.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

from django.core.cache import cache

from board.events import Event, encode
from board.log import AlreadyExists, BaseLog
from board.log.layout import incoming_key

LOCK_TTL = 5  # seconds: longer than one commit, short enough to outlive a crashed holder
LOCK_WAIT = 10.0


def _hint_key(board: str, thread: str) -> str:
    return f"utakata:seq:{board}:{thread}"


@contextlib.contextmanager
def thread_lock(board: str, thread: str) -> Iterator[bool]:
    """Hold the thread's posting lock if it can be had within LOCK_WAIT; yield whether it was.

    Correctness never depends on it (see the module docstring), so a poster who
    waited too long goes ahead unlocked rather than being refused.
    """
    key = f"utakata:lock:{board}:{thread}"
    token = uuid.uuid4().hex
    deadline = time.monotonic() + LOCK_WAIT
    # A holder keeps the lock for one log write (milliseconds): waiters poll at that
    # scale; a 50 ms cap made one busy thread post at a quarter of the bare put rate.
    delay = 0.002
    held = cache.add(key, token, LOCK_TTL)
    while not held and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.005)
        held = cache.add(key, token, LOCK_TTL)
    try:
        yield held
    finally:
        if held and cache.get(key) == token:
            cache.delete(key)


def commit_numbered(
    log: BaseLog,
    board: str,
    thread: str,
    known_count: int,
    build: Callable[[int], Event],
    limit: int,
) -> Event | None:
    """Commit build(n) for the lowest free number n > every committed one.

    Returns the committed event, or None when the next number would exceed
    limit (the thread is full). known_count is the store's count, a floor for
    the hint after the cache lost it.
    """
    hint_key = _hint_key(board, thread)
    with thread_lock(board, thread):
        number = max(cache.get(hint_key) or 0, known_count) + 1
        while number <= limit:
            event = build(number)
            try:
                log.create(incoming_key(event), encode(event))
            except AlreadyExists:
                number += 1
                continue
            cache.set(hint_key, number, None)
            return event
        cache.set(hint_key, limit, None)
        return None


def commit_thread(
    log: BaseLog,
    now_seconds: int,
    build: Callable[[str], Event],
    known: Callable[[str], bool],
    attempts: int = 100,
) -> Event:
    """Commit a thread's first post under the lowest free key >= now_seconds.

    2ch thread keys are the creation time in seconds; two threads in the same
    second on one board take consecutive keys, decided by the conditional put.
    known(key) says the store already has that thread: its first post may have
    been rolled up out of incoming/, where the put could no longer see it.
    """
    for key in range(now_seconds, now_seconds + attempts):
        if known(str(key)):
            continue
        event = build(str(key))
        try:
            log.create(incoming_key(event), encode(event))
        except AlreadyExists:
            continue
        return event
    raise AlreadyExists(f"no free thread key in {now_seconds}..{now_seconds + attempts - 1}")
