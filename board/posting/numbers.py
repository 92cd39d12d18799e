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

On Redis, posters do not queue on the lock: the thread's sequence
(sequence.py) hands each one a number with one script and they write their
claims at once, so a busy thread takes posts at the rate of parallel log
writes. A later number can then land while an earlier one fails. Such a gap
is closed: its poster gives the number back when nobody was handed a later
one, else writes a *void* there (an empty, deleted post); a number whose
poster died is handed out again once the sequence has been stuck on it for a
while (at the next post, or by the number sweep, sweep below). When Redis
lost the sequence as well, the gap is read from the log: the sequence starts
from a listing that shows it (board/log/claims.py) and stays stuck on it,
and the rollup voids any gap left below the claims it rolls up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from board.events import Event, EventType, encode, new_event
from board.lib.cache import CACHE_ERRORS
from board.log import AlreadyExists, BaseLog, LogError
from board.log.claims import read_claims
from board.log.layout import incoming_key, post_key, thread_prefix
from board.posting import confirm, sequence
from board.posting.threadlock import Hint, redis_backend, thread_lock

logger = logging.getLogger(__name__)

# Thread keys are tried from the clock's second up to this many seconds ahead of it.
KEY_WINDOW = 100


class NotInLog(Exception):
    """The thread has no claim in the log: archived and rolled up, or it never existed."""


def first_free(log: BaseLog, board: str, thread: str) -> int | None:
    """The number after the highest the log shows taken in the thread (claims and markers); None if none."""
    highest = read_claims(log, board, thread).highest
    return None if highest is None else highest + 1


def _has_claims(log: BaseLog, board: str, thread: str) -> bool:
    return log.first(thread_prefix(board, thread)) is not None


def _has_sequence(board: str, thread: str) -> bool:
    """Whether Redis holds the thread's sequence, which only a thread with a post in the log has.

    Best-effort: False when there is no Redis or it fails, and the log is listed.
    """
    cache = redis_backend()
    if cache is None:
        return False
    try:
        return sequence.Sequence(cache, board, thread).exists()
    except CACHE_ERRORS:
        return False


def first_number(log: BaseLog, board: str, thread: str, hint: Hint | None) -> int:
    """The number to try first: after a trusted hint, else the lowest the log shows free."""
    if hint is not None and hint.trusted(_now_ms()):
        return hint.number + 1
    free = first_free(log, board, thread)
    if free is None:
        raise NotInLog(f"no claim of thread {board}/{thread} in the log: archived and rolled up, or never made")
    return free


Put = Callable[[str, bytes], None]

# What a number no post could take holds, so that the numbers after it are not held back (see void).
VOID = {"name": "", "mail": "sage", "body": "", "id": "", "void": True}


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

    On Redis, numbers come from the thread's sequence (sequence.py) and
    posters write their claims at once; on any other cache, or when Redis
    fails before a number was handed out, one at a time under the thread lock.
    """
    put = put or log.create
    cache = redis_backend()
    if cache is not None:
        try:
            seq = sequence.Sequence(cache, board, thread)
            first = _reserve(log, seq, board, thread, limit)
        except CACHE_ERRORS as exc:
            logger.warning("numbering: no sequence for %s/%s, the cache failed: %s", board, thread, exc)
        else:
            return _commit_reserved(log, seq, board, thread, build, limit, put, first)
    return _commit_locked(log, board, thread, build, limit, put)


def _reserve(log: BaseLog, seq: sequence.Sequence, board: str, thread: str, limit: int) -> int:
    """A number from the sequence, starting it from the log if it is not there; FULL past limit."""
    number = seq.reserve(_now_ms(), limit)
    if number == sequence.NEEDS_START:
        claims = read_claims(log, board, thread)
        if not claims:
            raise NotInLog(f"no claim of thread {board}/{thread} in the log: archived and rolled up, or never made")
        number = seq.reserve(_now_ms(), limit, claims)
    return number


def _commit_reserved(
    log: BaseLog,
    seq: sequence.Sequence,
    board: str,
    thread: str,
    build: Callable[[int], Event],
    limit: int,
    put: Put,
    number: int,
) -> Event | None:
    """Write the claim of the number handed out, and of the next ones while another writer has them."""
    while number != sequence.FULL:
        event = build(number)
        try:
            put(incoming_key(event), encode(event))
        except AlreadyExists:
            _used(seq, number)
            number = _reserve_or_full(log, seq, board, thread, limit)
            continue
        except Exception:
            _not_written(log, seq, board, thread, number)
            raise
        _used(seq, number)
        return event
    return None


def _reserve_or_full(log: BaseLog, seq: sequence.Sequence, board: str, thread: str, limit: int) -> int:
    try:
        return _reserve(log, seq, board, thread, limit)
    except CACHE_ERRORS as exc:  # the next number has to come from the log now
        logger.warning("numbering: the sequence of %s/%s failed mid-post: %s", board, thread, exc)
        free = first_free(log, board, thread)
        return sequence.FULL if free is None or free > limit else free


def _used(seq: sequence.Sequence, number: int) -> None:
    try:
        seq.used(number, _now_ms())
    except CACHE_ERRORS as exc:  # the number is written; a stale sequence walks over it (sequence.py)
        logger.warning("numbering: number %d not marked used, the cache failed: %s", number, exc)


def _not_written(log: BaseLog, seq: sequence.Sequence, board: str, thread: str, number: int) -> None:
    """A number whose claim was not written (or may land later): give it back, else void it.

    A later number may already be written, and a dat is read line by line, so
    the posts after a gap would not be shown (board/readmodel/encoding.py).
    """
    try:
        if seq.give_back(number):
            return
    except CACHE_ERRORS:
        pass

    def fill() -> None:
        if void(log, board, thread, number):
            _used(seq, number)

    # The poster's answer does not wait for it: with S3 hung, the void would take a deadline more.
    confirm.in_background(fill)


def void(log: BaseLog, board: str, thread: str, number: int) -> bool:
    """Fill number with a void (an empty deleted post); whether the number is used now, by it or by another.

    It is written with a conditional put like any claim: if the failed write
    lands after all, one of the two is refused. When it cannot be written,
    the sequence's ``h`` stays below the gap and a later poster is handed it
    (sequence.py).
    """
    event = new_event(EventType.POST_CREATED, board, thread, number, VOID)
    try:
        confirm.create(log, incoming_key(event), encode(event), confirm.deadline())
    except AlreadyExists:
        return True
    except LogError as exc:
        logger.error("numbering: the gap at %s/%s %d could not be voided: %s", board, thread, number, exc)
        return False
    logger.warning("numbering: %s/%s %d voided: its post was not written, later ones were", board, thread, number)
    return True


def sweep(log: BaseLog) -> list[str]:
    """Settle the numbers whose posters died holding them (sequence.stuck); return what was done, a line each.

    A number whose claim is in the log was written and only not marked; one
    whose claim is not gets a void. Either way the thread's ``h`` moves on.
    """
    cache = redis_backend()
    if cache is None:
        return []
    done = []
    for board, thread, number in list(sequence.stuck(cache, _now_ms())):
        written = log.exists(post_key(board, thread, number))
        if written or void(log, board, thread, number):
            sequence.Sequence(cache, board, thread).used(number, _now_ms())
            done.append(f"{board}/{thread} {number}: {'written' if written else 'voided'}")
    return done


def _commit_locked(
    log: BaseLog, board: str, thread: str, build: Callable[[int], Event], limit: int, put: Put
) -> Event | None:
    """One post at a time under the thread lock, walking from the hint or the listing."""
    with thread_lock(board, thread) as lock:
        number = first_number(log, board, thread, lock.hint)
        while number <= limit:
            event = build(number)
            started_ms = _now_ms()
            try:
                put(incoming_key(event), encode(event))
            except AlreadyExists:
                number += 1
                continue
            lock.raise_to = Hint(number, started_ms)
            return event
        lock.raise_to = Hint(limit, _now_ms())
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)


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
      a key whose thread's sequence Redis holds is skipped without listing, so
      that threads made in one second list one key each, not every key before;
    - an archived thread loses all its claims, but only through a rollup at
      least ROLLUP_GRACE_SECONDS after its first post was stamped, and a key
      runs at most KEY_WINDOW seconds ahead of the clock that stamped it: by
      then no clock tries that key any more. Settings refuse a grace below
      twice the window, which leaves one window for clocks that disagree.
    """
    for key in range(now_seconds, now_seconds + attempts):
        event = build(str(key))
        assert event.thread is not None
        if _has_sequence(event.board, event.thread) or _has_claims(log, event.board, event.thread):
            continue
        try:
            (put or log.create)(incoming_key(event), encode(event))
        except AlreadyExists:
            continue
        _start_sequence(event.board, event.thread)
        return event
    raise AlreadyExists(f"no free thread key in {now_seconds}..{now_seconds + attempts - 1}")


def _start_sequence(board: str, thread: str) -> None:
    """Start a new thread's sequence at its first post, so that its first reply need not list the log."""
    cache = redis_backend()
    if cache is None:
        return
    try:
        sequence.Sequence(cache, board, thread).start(_now_ms())
    except CACHE_ERRORS as exc:  # its first reply lists the log instead
        logger.warning("numbering: new thread %s/%s has no sequence, the cache failed: %s", board, thread, exc)
