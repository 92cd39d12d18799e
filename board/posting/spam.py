"""The anti-spam rules a 2ch board is expected to have, each a board setting (0 turns it off).

- ``anchors_max``: a post with more ``>>`` anchors is refused (レスアンカーが多すぎます);
- ``column_max``: a line longer than this many Shift_JIS bytes is refused (BBS_COLUMN_NUMBER);
- ``double_post_seconds``: the same body from the same daily ID in a board within this
  many seconds is refused (二重かきこですか？？);
- ``threads_per_poster`` in ``thread_window_minutes``: one ID making more new threads is
  refused (スレッド立てすぎ), and ``threads_per_board`` in the same window for the whole board;
- the cooldown escalates for a poster who keeps hitting it (cooldown.py).

The content rules need nothing but the post; the others count in the cache
(Redis), best-effort like the cooldown: with the cache down they let posts
through. SETTING.TXT advertises each (board/formats/setting.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

from django.core.cache import cache

from board.formats import dat
from board.formats.markup import anchors_in
from board.lib.cache import CACHE_ERRORS
from board.posting import refusals as r
from board.posting.refusals import Refused
from board.posting.validation import Submission

logger = logging.getLogger(__name__)


def check_content(sub: Submission, board: dict[str, Any]) -> None:
    """Refuse a post with too many anchors or an over-long line."""
    limit = board["anchors_max"]
    if limit:
        anchors = anchors_in(sub.body)
        if anchors > limit:
            raise Refused(r.TOO_MANY_ANCHORS.format(count=anchors, limit=limit))
    width = board["column_max"]
    if width:
        longest = max((len(dat.encode(line)) for line in sub.body.split("\n")), default=0)
        if longest > width:
            raise Refused(r.LINE_TOO_LONG.format(size=longest, limit=width))


def _double_key(board: str, poster: str, body: str) -> str:
    return f"utakata:double:{board}:{poster}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


def start_double_post(board: dict[str, Any], poster: str, body: str) -> None:
    """Refuse the same body from the same ID within double_post_seconds; else remember this one."""
    seconds = board["double_post_seconds"]
    if not seconds:
        return
    try:
        fresh = cache.add(_double_key(board["name"], poster, body), 1, seconds)
    except CACHE_ERRORS as exc:
        logger.warning("double-post check skipped, the cache failed: %s", exc)
        return
    if not fresh:
        raise Refused(r.DOUBLE_POST)


def cancel_double_post(board: dict[str, Any], poster: str, body: str) -> None:
    """Forget the body: the post it was remembered for was not written."""
    with contextlib.suppress(*CACHE_ERRORS):
        cache.delete(_double_key(board["name"], poster, body))


def _count(key: str, window: int) -> int:
    """Add one to a counter that lives for window seconds; return its value."""
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the add and the incr
        cache.add(key, 1, window)
        return 1


def count_new_thread(board: dict[str, Any], poster: str) -> None:
    """Refuse a new thread past the poster's or the board's limit in the window."""
    window = board["thread_window_minutes"] * 60
    if not window:
        return
    try:
        if (
            board["threads_per_poster"]
            and _count(f"utakata:tatesugi:{board['name']}:{poster}", window) > board["threads_per_poster"]
        ):
            raise Refused(r.TOO_MANY_THREADS)
        if (
            board["threads_per_board"]
            and _count(f"utakata:tatesugi:{board['name']}", window) > board["threads_per_board"]
        ):
            raise Refused(r.BOARD_TOO_MANY_THREADS)
    except CACHE_ERRORS as exc:
        logger.warning("thread creation limit not enforced, the cache failed: %s", exc)
