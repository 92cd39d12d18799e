"""The per-address cooldown between posts, kept in the cache (Redis in production).

A poster who keeps posting inside their cooldown gets a longer one: each hit
in the last hour doubles the next cooldown, up to the board's ``cooldown_max``
(0: no escalation). Best-effort: when the cache is down the cooldown is not
enforced (it fails open: posting goes on) and a warning is logged (README,
"When Redis is down").
"""

from __future__ import annotations

import logging
import math
import time

from django.core.cache import cache

from board.lib.cache import CACHE_ERRORS

logger = logging.getLogger(__name__)


def _key(board: str, poster: str) -> str:
    return f"utakata:cool:{board}:{poster}"


STRIKES_KEPT = 3600  # seconds a hit counts toward escalation


def _strikes_key(board: str, poster: str) -> str:
    return f"utakata:strikes:{board}:{poster}"


def start(board: str, poster: str, seconds: int, longest: int = 0) -> int:
    """Start the poster's cooldown; return 0, or the seconds still to wait if one is running."""
    if seconds <= 0:
        return 0
    try:
        strikes = cache.get(_strikes_key(board, poster)) or 0 if longest else 0
        seconds = min(max(seconds, longest), seconds * 2**strikes) if longest else seconds
        until = time.time() + seconds
        if cache.add(_key(board, poster), until, seconds):
            return 0
        running = cache.get(_key(board, poster))
        if longest:
            cache.set(_strikes_key(board, poster), min(strikes + 1, 16), STRIKES_KEPT)
    except CACHE_ERRORS as exc:
        logger.warning("cooldown not enforced, the cache failed: %s", exc)
        return 0
    return max(1, math.ceil((running or until) - time.time()))


def cancel(board: str, poster: str) -> None:
    """Forget the cooldown: the post it was started for was not written."""
    try:
        cache.delete(_key(board, poster))
    except CACHE_ERRORS as exc:
        logger.warning("cooldown not cancelled, the cache failed: %s", exc)
