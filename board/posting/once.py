"""A post sent twice is written once.

A poster told "not confirmed" sends again; a browser resends a form; a 2ch
client retries bbs.cgi; a poster clicks twice. Each submission carries a key:
for the HTML form, its one-time token with what was typed in it (the same
form sent again with other text, after going Back, is a post of its own);
for bbs.cgi (whose clients send a fixed set of fields), what identifies the
post: the poster's daily ID, the board, the thread (or the new thread's
subject), the client's ``time`` field and the body. The key goes into the
event's payload (``once``), and the cache remembers, per key, how the latest
attempt stands: starting (taken by ``begin``, its claim not written yet), or
the log key of its claim and how that ended (pending, written, taken,
failed). ``begin`` takes the key atomically, so of two submissions at once
one goes on and the other is asked to wait a moment and send again. A
submission whose key the cache knows reads that log key back: there with
this key, the first post is the answer and nothing is written again; still
pending, the poster is asked to wait a moment; failed or taken, it is posted
anew.

Posting stays one log write: the check is one cache write (``SET NX``), plus a
log read only for a resubmission. The cache (Redis) is best-effort here as everywhere: when
it is down, a resubmission is not recognised (README, "When Redis is down").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from board.events import Event, decode
from board.lib.cache import CACHE_ERRORS
from board.log import BaseLog, NotFound
from board.posting import confirm

logger = logging.getLogger(__name__)

TTL = 600  # seconds a submission is remembered: longer than any retry of it
PREFIX = "utakata:once:"
STARTING = "starting"


def new_token() -> str:
    """A one-time token for a form: each rendering of a form is one submission."""
    return secrets.token_urlsafe(12)


def _digest(*parts: str) -> str:
    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(settings.ID_SECRET.encode(), message, hashlib.sha256).hexdigest()[:24]


def for_form(board: str, thread: str | None, token: str, *typed: str) -> str | None:
    """The key of an HTML form submission (None without a usable token).

    The thread is part of it: a page's forms (a board top has one per thread)
    share one token, and a post in each is a post of its own. So is what was
    typed: a browser keeps a page's form when its poster goes Back, and what
    they write in it then is a new post, not the first one sent again.
    """
    token = token.strip()
    if not token or len(token) > 64:
        return None
    return _digest("form", board, thread or "", token, *typed)


def for_bbscgi(board: str, poster: str, thread: str | None, subject: str, time_field: str, body: str) -> str:
    """The key of a bbs.cgi submission: the same post sent again by the same poster has the same key."""
    return _digest("bbs.cgi", board, poster, thread or "", subject if thread is None else "", time_field, body)


@dataclass(frozen=True, slots=True)
class Earlier:
    state: str  # starting | pending | written | taken | failed
    log_key: str


def begin(once: str) -> Earlier | None:
    """Take the key for this submission; if another took it first, what the cache remembers of that one.

    None: this submission goes on (also when the cache fails: resubmissions
    are then not recognised). The key stays "starting" until the claim's
    write is remembered or the submission is abandoned, and for at most
    twice the commit deadline should its process die in between.
    """
    starting = max(1, math.ceil(2 * settings.COMMIT_DEADLINE))
    try:
        if cache.add(PREFIX + once, (STARTING, ""), starting):
            return None
        found = cache.get(PREFIX + once)
    except CACHE_ERRORS as exc:
        logger.warning("resubmission check skipped, the cache failed: %s", exc)
        return None
    return Earlier(*found) if found else None


def abandon(once: str) -> None:
    """The submission ended before its claim was written (refused, failed): a resend may post it."""
    try:
        found = cache.get(PREFIX + once)
        if found and found[0] == STARTING:  # else its write is remembered, or another attempt's
            cache.delete(PREFIX + once)
    except CACHE_ERRORS as exc:
        logger.warning("submission %s not released, the cache failed: %s", once, exc)


@contextlib.contextmanager
def attempt(once: str | None) -> Iterator[None]:
    """Abandon the key (if any) when the block raises."""
    try:
        yield
    except BaseException:
        if once is not None:
            abandon(once)
        raise


def remember(once: str, state: str, log_key: str) -> None:
    try:
        cache.set(PREFIX + once, (state, log_key), TTL)
    except CACHE_ERRORS as exc:
        logger.warning("submission %s not remembered, the cache failed: %s", once, exc)


def find(log: BaseLog, once: str, where: Earlier, until: float) -> Event | None:
    """The event an earlier submission with this key wrote, or None if the log does not hold it there.

    Answered by ``until``; raises confirm.Unconfirmed when the log cannot say by then.
    """
    try:
        event = decode(confirm.read(log, where.log_key, until))
    except NotFound:
        return None
    return event if event.payload.get("once") == once else None
