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
(S3 lists consistently) shows the highest number committed, and any gap. A thread with no
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

Group commit (commit_numbered) writes a batch's claims at once, so a later
number can land while an earlier one fails. Such a gap is closed three
ways: the batch's leader writes a *void* (an empty, deleted post) at the
failed number before it lets the lock go; the hint covers only a run of
taken numbers, so the next poster takes the gap's number when the void could
not be written; and when the leader died and the hint is gone, the listing
shows the gap, because the rollup deletes a thread's claims only below its
lowest open number (first_free). The batch's hint time is taken before any
of its claims is stamped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from board.events import Event, EventType, encode, new_event
from board.log import AlreadyExists, BaseLog, LogError
from board.log.layout import incoming_key, parse_post_key, thread_prefix
from board.posting import confirm
from board.posting.threadlock import Hint, thread_lock

logger = logging.getLogger(__name__)

# Thread keys are tried from the clock's second up to this many seconds ahead of it.
KEY_WINDOW = 100


class NotInLog(Exception):
    """The thread has no claim in the log: archived and rolled up, or it never existed."""


def first_free(log: BaseLog, board: str, thread: str) -> int | None:
    """The lowest number the log shows free in the thread: the first gap, else after the highest; None if none.

    Claims and markers count as taken. The rollup deletes a thread's claims
    only below its lowest number still open (board/lifecycle/rollup.py), so a
    number missing above the lowest claim listed is one no write took: a gap
    a batch left whose leader died (see commit_numbered), taken first. A
    marker alone may be what a tidy left of a deleted claim, so the search
    starts at the lowest claim.
    """
    claims: set[int] = set()
    taken: set[int] = set()
    for info in log.list(thread_prefix(board, thread)):
        parsed = parse_post_key(info.key)
        if parsed is not None:
            taken.add(parsed.number)
            if not parsed.marker:
                claims.add(parsed.number)
    if not taken:
        return None
    number = min(claims, default=max(taken))
    while number in taken:
        number += 1
    return number


def _has_claims(log: BaseLog, board: str, thread: str) -> bool:
    listing = log.list(thread_prefix(board, thread))
    return next(iter(listing), None) is not None


def first_number(log: BaseLog, board: str, thread: str, hint: Hint | None) -> int:
    """The number to try first: after a trusted hint, else the lowest the log shows free."""
    if hint is not None and hint.trusted(int(time.time() * 1000)):
        return hint.number + 1
    free = first_free(log, board, thread)
    if free is None:
        raise NotInLog(f"no claim of thread {board}/{thread} in the log: archived and rolled up, or never made")
    return free


Put = Callable[[str, bytes], None]

BATCH_MAX = 16  # claims numbered together; more would only hold the lock longer
# What a number no post could take holds, so that the numbers after it are not held back (see _void).
VOID = {"name": "", "mail": "sage", "body": "", "id": "", "void": True}


@dataclass(eq=False)
class _Claim:
    """One poster's wish for a number, as its batch sees it."""

    build: Callable[[int], Event]
    put: Put
    limit: int
    state: str = "waiting"  # waiting, leading, numbered, written, settled
    number: int | None = None
    event: Event | None = None
    error: Exception | None = None
    taken: bool = False  # the number was someone else's: it is numbered again
    voided: bool = False  # its write failed and a void holds its number


@dataclass(eq=False)
class _Line:
    """The claims this process has for one thread, in arrival order, and whether one of them leads."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    waiting: list[_Claim] = field(default_factory=list)
    leading: bool = False


_lines: dict[tuple[str, str], _Line] = {}
_lines_mutex = threading.Lock()  # taken before a line's cond, never after


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

    The posts a process has for one thread are numbered in batches (group
    commit): the first to come leads a batch; those that come while it holds
    or waits for the thread's lock join the next one. The leader gives each
    claim of its batch the next number and every poster writes its own claim
    in its own thread, all at once, so a busy thread takes a batch of posts
    in about the time of one log write.
    """
    me = _Claim(build, put or log.create, limit)
    with _lines_mutex:
        line = _lines.setdefault((board, thread), _Line())
        with line.cond:
            line.waiting.append(me)
            if not line.leading:
                line.leading, me.state = True, "leading"
    while True:
        with line.cond:
            line.cond.wait_for(lambda: me.state != "waiting")
        if me.state == "leading":
            _lead(log, board, thread, line)
        elif me.state == "numbered":
            _write(me, line)
        with line.cond:
            line.cond.wait_for(lambda: me.state in ("settled", "waiting", "leading"))
            if me.state == "settled":
                break
    _forget_if_idle(board, thread, line)
    if me.error is not None:
        raise me.error
    return me.event


def _write(claim: _Claim, line: _Line) -> None:
    """Write the claim's event under its number, in the poster's own thread; tell the leader how it went."""
    try:
        assert claim.number is not None
        claim.event = claim.build(claim.number)
        claim.put(incoming_key(claim.event), encode(claim.event))
    except AlreadyExists:
        claim.taken = True
    except Exception as exc:  # the leader decides what it means; the poster raises it once settled
        claim.error = exc
    with line.cond:
        if claim.state == "numbered":
            claim.state = "written"
        line.cond.notify_all()


def _lead(log: BaseLog, board: str, thread: str, line: _Line) -> None:
    """Number one batch under the thread's lock and settle it; then hand the lead on."""
    batch: list[_Claim] = []
    try:
        with thread_lock(board, thread) as lock:
            with line.cond:
                # Unlocked (the cache is down or too slow), a batch is one claim: a
                # batch whose leader dies between its writes can leave a gap, and
                # only a hint that covers the batch lets the next poster fill it.
                size = BATCH_MAX if lock.acquired else 1
                batch, line.waiting[:] = line.waiting[:size], line.waiting[size:]
            lock.raise_to = _commit(log, board, thread, lock.hint, batch, line)
    finally:
        _answer(batch, line)


def _commit(log: BaseLog, board: str, thread: str, hint: Hint | None, batch: list[_Claim], line: _Line) -> Hint | None:
    """Number the batch, wait for its writes, fill its gaps; return the hint it leaves."""
    try:
        first = first_number(log, board, thread, hint)
    except Exception as exc:  # NotInLog, or the log did not answer: nothing was written
        for claim in batch:
            claim.error = exc
        return None
    started_ms = int(time.time() * 1000)  # before any claim of the batch is stamped (see Hint)
    numbered, number = [], first
    with line.cond:
        for claim in batch:
            if number > claim.limit:
                claim.state = "settled"  # full: no event, no error
                continue
            claim.number, claim.state = number, "numbered"
            numbered.append(claim)
            number += 1
        line.cond.notify_all()
    if batch[0].state == "numbered":  # the leader's own claim, written here
        _write(batch[0], line)
    with line.cond:
        line.cond.wait_for(lambda: all(claim.state == "written" for claim in numbered))
    return _fill_gaps(log, board, thread, first, numbered, started_ms)


def _fill_gaps(
    log: BaseLog, board: str, thread: str, first: int, numbered: list[_Claim], started_ms: int
) -> Hint | None:
    """Void every number of the batch whose write failed below one that was written; return the hint.

    The dat is read line by line, so a post after a gap would not be shown
    (board/readmodel/encoding.py). A void is an empty deleted post written
    with a conditional put like any claim: if the failed write lands after
    all, one of the two is refused. When the void cannot be written either,
    the hint stops below the gap, so the next poster's walk takes its number.
    """
    used = [claim.number for claim in numbered if claim.error is None]  # written, or someone else's
    for claim in numbered:
        if claim.error is not None and used and claim.number < max(used):
            claim.voided = _void(log, board, thread, claim.number)
    top = first - 1
    for claim in numbered:
        if claim.error is not None and not claim.voided:
            break
        top = claim.number
    return Hint(top, started_ms) if top >= first else None


def _void(log: BaseLog, board: str, thread: str, number: int) -> bool:
    """Fill number with a void; whether the number is now used (by the void, or by whatever got there first)."""
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


def _answer(batch: list[_Claim], line: _Line) -> None:
    """Settle the batch's claims, put those whose number was taken back first in line, and hand the lead on."""
    with line.cond:
        again = [claim for claim in batch if claim.taken and claim.error is None]
        for claim in batch:
            if claim in again:
                claim.state, claim.number, claim.event, claim.taken = "waiting", None, None, False
            elif claim.state != "settled":
                claim.state = "settled"
        line.waiting[:0] = again
        if line.waiting:
            line.waiting[0].state = "leading"
        else:
            line.leading = False
        line.cond.notify_all()


def _forget_if_idle(board: str, thread: str, line: _Line) -> None:
    """Drop a thread's line once nobody waits in it: the lines kept are the threads being posted to now."""
    with _lines_mutex, line.cond:
        if not line.leading and not line.waiting and _lines.get((board, thread)) is line:
            del _lines[(board, thread)]


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
