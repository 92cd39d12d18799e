"""The per-address cooldown between posts, kept in the cache (Redis in production)."""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def _key(board: str, poster: str) -> str:
    return f"utakata:cool:{board}:{poster}"


def start(board: str, poster: str, seconds: int) -> int:
    """Start the poster's cooldown; return 0, or the seconds still to wait if one is running."""
    if seconds <= 0:
        return 0
    until = time.time() + seconds
    if cache.add(_key(board, poster), until, seconds):
        return 0
    running = cache.get(_key(board, poster))
    return max(1, math.ceil((running or until) - time.time()))


def cancel(board: str, poster: str) -> None:
    """Forget the cooldown: the post it was started for was not written."""
    cache.delete(_key(board, poster))
