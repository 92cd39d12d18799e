"""A post sent twice is written once.

A poster told "not confirmed" sends again; a browser resends a form; a 2ch
client retries bbs.cgi. Each submission carries a key: the HTML form's one-
time token, or for bbs.cgi (whose clients send a fixed set of fields) a hash
of what identifies the post: the poster's daily ID, the board, the thread (or
the new thread's subject), the client's ``time`` field and the body. The key
goes into the event's payload (``once``), and the cache remembers, per key,
the log key of the latest attempt and how it ended (pending, written, taken,
failed). A submission whose key the cache knows reads that log key back:
there with this key, the first post is the answer and nothing is written
again; still pending, the poster is asked to wait a moment; failed or
taken, it is posted anew.

Posting stays one log write: the check is a cache read, plus a log read only
for a resubmission. The cache (Redis) is best-effort here as everywhere: when
it is down, a resubmission is not recognised (README, "When Redis is down").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
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


def new_token() -> str:
    """A one-time token for a form: each rendering of a form is one submission."""
    return secrets.token_urlsafe(12)


def _digest(*parts: str) -> str:
    message = "\x00".join(parts).encode("utf-8")
    return hmac.new(settings.ID_SECRET.encode(), message, hashlib.sha256).hexdigest()[:24]


def for_form(board: str, thread: str | None, token: str) -> str | None:
    """The key of an HTML form submission (None without a usable token).

    The thread is part of it: a page's forms (a board top has one per thread)
    share one token, and a post in each is a post of its own.
    """
    token = token.strip()
    if not token or len(token) > 64:
        return None
    return _digest("form", board, thread or "", token)


def for_bbscgi(board: str, poster: str, thread: str | None, subject: str, time_field: str, body: str) -> str:
    """The key of a bbs.cgi submission: the same post sent again by the same poster has the same key."""
    return _digest("bbs.cgi", board, poster, thread or "", subject if thread is None else "", time_field, body)


@dataclass(frozen=True, slots=True)
class Earlier:
    state: str  # pending | written | taken | failed
    log_key: str


def earlier(once: str) -> Earlier | None:
    """What the cache remembers of an earlier submission with this key (None if nothing, or no cache)."""
    try:
        found = cache.get(PREFIX + once)
    except CACHE_ERRORS as exc:
        logger.warning("resubmission check skipped, the cache failed: %s", exc)
        return None
    return Earlier(*found) if found else None


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
