"""The per-address cooldown between posts, kept in the cache (Redis in production).

Best-effort: when the cache is down the cooldown is not enforced (it fails
open: posting goes on) and a warning is logged (README, "When Redis is down").
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


def start(board: str, poster: str, seconds: int) -> int:
    """Start the poster's cooldown; return 0, or the seconds still to wait if one is running."""
    if seconds <= 0:
        return 0
    until = time.time() + seconds
    try:
        if cache.add(_key(board, poster), until, seconds):
            return 0
        running = cache.get(_key(board, poster))
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
