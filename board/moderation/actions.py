"""What a moderator can do. Each action commits an event; nothing is edited in place."""

from __future__ import annotations

from board.events import Event, EventType, new_event
from board.posting.commit import commit
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


def archive_thread(board: str, thread: str) -> Event:
    """Send a thread to the archive (過去ログ) by hand: read-only from then on."""
    if queries.thread(get_store(), board, thread) is None:
        raise ModerationError(f"no thread {board}/{thread}")
    return commit(new_event(EventType.THREAD_ARCHIVED, board, thread))
