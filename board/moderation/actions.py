"""What a moderator can do. Each action commits an event; nothing is edited in place."""

from __future__ import annotations

from board.events import Event, EventType, new_event
from board.posting.commit import commit
from board.posting.poster_id import jst_day
from board.readmodel import queries
from board.store import get_store


class ModerationError(Exception):
    """The action names something that does not exist."""


def delete_post(board: str, thread: str, number: int, reason: str = "") -> Event:
    """あぼーん: the post's text is gone from pages, the dat and the next snapshot."""
    found = queries.thread(get_store(), board, thread)
    if found is None:
        raise ModerationError(f"no thread {board}/{thread}")
    if not 1 <= number <= found.count:
        raise ModerationError(f"thread {board}/{thread} has posts 1..{found.count}, not {number}")
    return commit(new_event(EventType.POST_DELETED, board, thread, number, {"reason": reason}))


def ban_poster(board: str, thread: str, number: int, reason: str = "") -> Event:
    """Ban the author of a post for the rest of its JST day on this board.

    A ban names the daily ID, the only handle on a poster this board keeps: the
    address itself is never stored, so a ban ends with the day the ID belongs to.
    """
    found = queries.thread(get_store(), board, thread)
    if found is None:
        raise ModerationError(f"no thread {board}/{thread}")
    posts = queries.posts(get_store(), board, thread, [number])
    if not posts or posts[0].get("deleted") and "id" not in posts[0]:
        raise ModerationError(f"no post {board}/{thread}/{number} to take an ID from")
    post = posts[0]
    if not post.get("id"):
        raise ModerationError(f"post {board}/{thread}/{number} has no ID (the board does not force IDs)")
    payload = {"poster": post["id"], "day": jst_day(post["time"]).isoformat(), "reason": reason}
    return commit(new_event(EventType.POSTER_BANNED, board, thread, number, payload))


def archive_thread(board: str, thread: str) -> Event:
    """Send a thread to the archive (過去ログ) by hand: read-only from then on."""
    if queries.thread(get_store(), board, thread) is None:
        raise ModerationError(f"no thread {board}/{thread}")
    return commit(new_event(EventType.THREAD_ARCHIVED, board, thread))
