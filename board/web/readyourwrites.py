"""The poster sees their own post on the next page, even before fan-out ran.

The posting response sets a short-lived cookie naming the post; the thread
page, if its store copy is behind that number, applies the missing posts
straight from the log (the same idempotent apply the workers run).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from board.events import decode
from board.log import LogError, NotFound, get_log
from board.log.layout import post_key
from board.posting import confirm
from board.readmodel.projection import apply
from board.store import get_store

COOKIE = "utakata_posted"
MAX_AGE = 120
BUDGET = 1.0  # seconds a page waits for the log at most: a hung log must not hold the page
logger = logging.getLogger(__name__)


def remember(response: HttpResponse, board: str, thread: str, number: int) -> None:
    # Signed: a forged cookie would otherwise make every page view read the log. Secure with the
    # session's cookies (UTAKATA_SECURE_COOKIES, on under UTAKATA_TLS): it names what the poster wrote.
    response.set_signed_cookie(
        COOKIE,
        f"{board}/{thread}/{number}",
        salt=COOKIE,
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def pending_number(request: HttpRequest, board: str, thread: str) -> int:
    """The number the poster last wrote in this thread (0 if none, or if the cookie is not ours)."""
    value = request.get_signed_cookie(COOKIE, default="", salt=COOKIE, max_age=MAX_AGE)
    b, _, rest = value.partition("/")
    t, _, n = rest.partition("/")
    return int(n) if b == board and t == thread and n.isascii() and n.isdigit() else 0


def catch_up(board: str, thread: str, have: int, want: int) -> bool:
    """Apply posts have+1..want from the log, as far as it answers within BUDGET; True if anything was applied."""
    until = time.monotonic() + BUDGET
    log, store = get_log(), get_store()
    applied = False
    for number in range(have + 1, min(want, have + 50) + 1):
        try:
            data = confirm.read(log, post_key(board, thread, number), until)
        except NotFound:  # numbers are gapless: nothing further can be there either
            break
        except LogError as exc:  # the page goes without the catch-up; fan-out will bring the post
            logger.warning("read-your-writes catch-up failed for %s/%s/%d: %s", board, thread, number, exc)
            break
        apply(store, decode(data))
        applied = True
    return applied
