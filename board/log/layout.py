"""Where each object lives in the durable log.

    incoming/posts/<board>/<thread>/<nnnn>.json   a thread's first post or a reply
    incoming/events/<event-id>.json               every other event (boards, moderation, archival)
    hourly/YYYY/MM/DD/HH.jsonl.gz (+ .manifest.json)   rolled-up hours
    snapshots/...                                   see board/lifecycle

A numbered post's key is its number, not its id: the conditional put on that
key is what makes res numbers unique, in the log itself, whatever Redis knows.
"""

from __future__ import annotations

from board.events import Event, EventType

INCOMING = "incoming/"
INCOMING_POSTS = "incoming/posts/"
INCOMING_EVENTS = "incoming/events/"

NUMBERED = frozenset({EventType.THREAD_CREATED, EventType.POST_CREATED})


def post_key(board: str, thread: str, number: int) -> str:
    return f"{INCOMING_POSTS}{board}/{thread}/{number:04d}.json"


def incoming_key(event: Event) -> str:
    """The key an event is committed under."""
    if event.type in NUMBERED:
        assert event.thread is not None and event.number is not None
        return post_key(event.board, event.thread, event.number)
    return f"{INCOMING_EVENTS}{event.id}.json"
