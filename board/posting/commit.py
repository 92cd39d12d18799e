"""The write path, top to bottom: validate, number, commit, fan out.

Only after ``log.create`` returned is a post acknowledged; everything after it
(fan-out, caches) may fail and be redone from the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings

from board.boards import DEFAULTS
from board.events import Event, EventType, decode, encode, new_event
from board.log import AlreadyExists, LogError, LogUnavailable, NotFound, get_log
from board.log.layout import incoming_key, post_key
from board.moderation import caps
from board.ops import logformat, metrics
from board.posting import confirm, cooldown, numbers, once, ranges, spam
from board.posting import refusals as r
from board.posting.poster_id import jst_day, poster_id
from board.posting.refusals import Refused
from board.posting.tripcode import render_name
from board.posting.validation import Submission, validate
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import StoreError, get_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Posted:
    """What the poster is told: where their post is."""

    event: Event
    archived: tuple[str, ...] = ()

    @property
    def board(self) -> str:
        return self.event.board

    @property
    def thread(self) -> str:
        assert self.event.thread is not None
        return self.event.thread

    @property
    def number(self) -> int:
        assert self.event.number is not None
        return self.event.number


KEY_DIGITS = 16  # a thread key is the creation time in seconds: 10 digits until the year 2286


def submit(board_name: str, thread_key: str | None, sub: Submission, address: str) -> Posted:
    """Post a reply (thread_key given) or a new thread; raise Refused if it is not written.

    Every refusal is true: "not saved" only when nothing can be in the log;
    when the log cannot say in time, "not confirmed" (and sending again is safe:
    board/posting/once.py).
    """
    try:
        posted = _submit(board_name, thread_key, sub, address)
    except Refused as exc:
        metrics.POSTS_REFUSED.labels(r.reason(exc.message)).inc()
        raise
    except StoreError as exc:  # before the commit (after it, nothing raises): nothing was written
        logger.error("post refused, the store failed: %s", exc)
        metrics.count_error("store", exc)
        metrics.POSTS_REFUSED.labels("store_down").inc()
        raise Refused(r.LOG_DOWN, status=503) from exc
    except LogError as exc:  # the commit's own errors are answered where it runs: this one came before it
        logger.error("post refused, the log failed before the commit: %s", exc)
        metrics.count_error("log", exc)
        metrics.POSTS_REFUSED.labels("log_down").inc()
        raise Refused(r.LOG_DOWN, status=503) from exc
    metrics.POSTS_ACCEPTED.labels("reply" if thread_key else "thread").inc()
    return posted


def _submit(board_name: str, thread_key: str | None, sub: Submission, address: str) -> Posted:
    store, log = get_store(), get_log()
    until = confirm.deadline()  # for everything the log is asked while the poster waits
    board = queries.board(store, board_name)
    if board is None:
        raise Refused(r.NO_BOARD, status=404)
    if board["closed"]:
        raise Refused(r.BOARD_CLOSED)
    if ranges.banned(address, board["banned_ranges"]):
        raise Refused(r.RANGE_BANNED)
    new_thread = thread_key is None
    thread = None
    if not new_thread:
        if not (thread_key.isascii() and thread_key.isdigit() and len(thread_key) <= KEY_DIGITS):
            raise Refused(r.NO_THREAD, status=404)
        thread = queries.thread(store, board_name, thread_key) or _just_created(log, board_name, thread_key, until)
        if thread is None:
            raise Refused(r.NO_THREAD, status=404)
        if thread.archived:
            raise Refused(r.ARCHIVED)
        if thread.stopped:
            raise Refused(r.THREAD_STOPPED)
        if thread.count >= board["res_max"]:
            raise Refused(r.STOPPED.format(limit=board["res_max"]))
    clean = validate(sub, board, new_thread)
    spam.check_content(clean, board)
    mail, cap_key = caps.split_mail(clean.mail)  # nothing typed after # is ever shown
    cap = caps.cap_name(cap_key) if cap_key else None
    if cap is None and caps.impersonates(clean.name, board["staff_names"]):
        raise Refused(r.STAFF_NAME)

    now_ms = int(time.time() * 1000)
    day = jst_day(now_ms)
    poster = poster_id(settings.ID_SECRET, board_name, address, day)
    key = _once_key(board_name, poster, thread_key, clean, sub)
    earlier = once.begin(key) if key is not None else None
    if earlier is not None:
        found = _resubmitted(log, key, earlier, until)
        if found is not None:
            return Posted(found)
    # Refused or failed before its claim is written, this submission lets go of its key,
    # so that sending it again posts it (a key another submission holds is not ours to free).
    with once.attempt(key if earlier is None else None):
        if queries.is_banned(store, board_name, day.isoformat(), poster):
            raise Refused(r.BANNED)
        wait = cooldown.start(board_name, poster, board["cooldown"], board["cooldown_max"])
        if wait:
            raise Refused(r.COOLDOWN.format(wait=wait), wait_seconds=wait, status=429)
        try:
            spam.start_double_post(board, poster, clean.body)
        except Refused:
            cooldown.cancel(board_name, poster)
            raise
        if new_thread:
            try:
                spam.count_new_thread(board, poster)
            except Refused:
                _not_written(board, poster, clean.body)
                raise

        name = render_name(clean.name, board["noname"])
        payload = {
            "name": f"{name}＠{cap} {caps.CAP_MARK}" if cap else name,
            "mail": mail,
            "body": clean.body,
            "id": poster if board["force_id"] else "",
        }
        if key is not None:
            payload["once"] = key
        if board["weekdays"] != DEFAULTS["weekdays"]:
            # A post's date is written once, with the names in force when it was made;
            # only boards that changed them carry them, to keep the log small.
            payload["weekdays"] = board["weekdays"]
        put = _confirming_put(log, key, until)
        try:
            if new_thread:
                payload["subject"] = clean.subject
                event = numbers.commit_thread(
                    confirm.Listing(log, until),
                    now_ms // 1000,
                    lambda key: new_event(EventType.THREAD_CREATED, board_name, key, 1, payload),
                    put=put,
                )
            else:
                assert thread is not None
                committed = numbers.commit_numbered(
                    confirm.Listing(log, until),
                    board_name,
                    thread.key,
                    lambda n: new_event(EventType.POST_CREATED, board_name, thread.key, n, payload),
                    limit=board["res_max"],
                    put=put,
                )
                if committed is None:
                    _not_written(board, poster, clean.body)
                    raise Refused(r.STOPPED.format(limit=board["res_max"]))
                event = committed
        except numbers.NotInLog as exc:
            # The store knows the thread (it was read above) but the log holds no claim of it
            # any more: archived and rolled up, whatever the store shows yet.
            _not_written(board, poster, clean.body)
            raise Refused(r.ARCHIVED) from exc
        except AlreadyExists as exc:  # every thread key of the last 100 seconds taken: a burst, not an outage
            _not_written(board, poster, clean.body)
            raise Refused(r.THREADS_BUSY, status=503) from exc
        except confirm.Unconfirmed as exc:
            # Maybe written: the cooldown stays, and sending it again finds it (once.py).
            logger.error("commit not confirmed: %s", exc)
            raise Refused(r.UNCONFIRMED, status=503, maybe_written=True) from exc
        except LogError as exc:
            _not_written(board, poster, clean.body)
            logger.error("commit refused, log unavailable: %s", exc)
            raise Refused(r.LOG_DOWN, status=503) from exc

        fan_out(event)
        archived = archive_overflow(board, event.thread) if new_thread else ()
        return Posted(event, archived)


def _not_written(board: dict, poster: str, body: str) -> None:
    """Undo what the post started: it was not written, so sending it again must be allowed."""
    cooldown.cancel(board["name"], poster)
    spam.cancel_double_post(board, poster, body)


def _once_key(board: str, poster: str, thread_key: str | None, clean: Submission, sub: Submission) -> str | None:
    """The submission's key (once.py): the form's token, or what a bbs.cgi client sends."""
    if sub.token:
        typed = (clean.name, clean.mail, clean.subject if thread_key is None else "", clean.body)
        return once.for_form(board, thread_key, sub.token, *typed)
    if sub.client_time:
        return once.for_bbscgi(board, poster, thread_key, clean.subject, sub.client_time, clean.body)
    return None


def _resubmitted(log, key: str, earlier: once.Earlier, until: float) -> Event | None:
    """The event of an earlier submission of this post, if it was written; Refused while it may be.

    Whatever the cache remembers, a post is written anew only once the log
    said the earlier attempt is not there: a log that cannot say in time (hung,
    failing) gets the poster "not confirmed yet", never a second copy.
    """
    if earlier.state == once.STARTING:  # sent twice at once (a double click): the other one is on its way
        raise Refused(r.STILL_CONFIRMING, status=503, maybe_written=True)
    try:
        found = once.find(log, key, earlier, until)
    except confirm.Unconfirmed as exc:
        if earlier.state == "taken":
            return None  # its number went to another post: this one is not there
        logger.error("resubmission not confirmed: %s", exc)
        message = r.STILL_CONFIRMING if earlier.state == "pending" else r.UNCONFIRMED
        raise Refused(message, status=503, maybe_written=True) from exc
    if found is not None:
        return found
    if earlier.state == "pending":
        raise Refused(r.STILL_CONFIRMING, status=503, maybe_written=True)
    return None  # failed, or lost its number to another post: post it anew


def _confirming_put(log, key: str | None, until: float):
    """The claim writer numbering uses: within the deadline, remembered for resubmissions."""

    def put(log_key: str, data: bytes) -> None:
        if key is not None:
            once.remember(key, "pending", log_key)
        settle = (lambda state: once.remember(key, state, log_key)) if key is not None else None
        started = time.monotonic()
        try:
            confirm.create(log, log_key, data, until, settle)
        except AlreadyExists:
            raise  # a number another post took: numbering tries the next, the log is fine
        except Exception as exc:
            metrics.commit_failed(exc)
            raise
        metrics.commit_done(time.monotonic() - started)

    return put


def _just_created(log, board_name: str, thread_key: str, until: float) -> queries.Thread | None:
    """A thread committed a moment ago whose fan-out has not run yet: apply its first post here.

    Without this a reply sent right after the thread was made (a script, a
    quick second tab) would be told the thread does not exist. The log is read
    within the post's deadline; when it cannot say, nothing was written yet.
    """
    try:
        data = confirm.read(log, post_key(board_name, thread_key, 1), until)
    except NotFound:
        return None
    except confirm.Unconfirmed as exc:
        logger.error("post refused, the thread's first post could not be read: %s", exc)
        raise Refused(r.LOG_DOWN, status=503) from exc
    apply(get_store(), decode(data))
    return queries.thread(get_store(), board_name, thread_key)


def commit(event: Event) -> Event:
    """Commit a non-numbered event (board, moderation, archival) and fan it out."""
    started = time.monotonic()
    try:
        get_log().create(incoming_key(event), encode(event))
    except Exception as exc:
        metrics.commit_failed(exc)
        raise
    metrics.commit_done(time.monotonic() - started)
    fan_out(event)
    return event


def fan_out(event: Event) -> None:
    """Hand the committed event to the workers; a lost message is found by reconcile."""
    from board.tasks import queueing
    from board.tasks.fanout import apply_logged

    try:
        queueing.send(apply_logged, incoming_key(event))
    except Exception as exc:  # the broker is down: the event is durable, reconcile will apply it
        # One line, no traceback: an outage, not a bug, and an operator's command that printed a
        # traceback here looked failed although its event was committed (and applied at once).
        with logformat.about(event):
            logger.warning(
                "fan-out of %s not queued (%s: %s); reconcile will apply it", event.id, type(exc).__name__, exc
            )


def archive_overflow(board: dict, new_key: str) -> tuple[str, ...]:
    """Past the board's thread cap, the least recently bumped threads fall off (dat落ち).

    The new thread may not be in the store yet (fan-out is asynchronous), so it
    is counted here rather than read back. It is written by then, so nothing
    here may fail the post: what cannot be archived now, the next new thread
    archives.
    """
    try:
        threads = queries.threads(get_store(), board["name"])
    except StoreError as exc:
        logger.error("archiving past the cap of %s skipped, the store failed: %s", board["name"], exc)
        return ()
    live = [t for t in threads if t.key != new_key]
    overflow = live[max(board["thread_cap"] - 1, 0) :]
    archived = []
    for thread in overflow:
        try:
            commit(new_event(EventType.THREAD_ARCHIVED, board["name"], thread.key))
        except (LogUnavailable, LogError):
            logger.exception("archiving %s/%s failed; the next new thread retries", board["name"], thread.key)
            break
        archived.append(thread.key)
    return tuple(archived)
