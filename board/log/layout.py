"""Where each object lives in the durable log.

    incoming/posts/<board>/<thread>/<nnnn>.json   a thread's first post or a reply (its claim)
    incoming/posts/<board>/<thread>/<nnnn>.rolled marker: that claim was kept, its event is in hourly/
    incoming/posts/<board>/<thread>/<nnnn>.floor  the thread's floor: every number up to it was committed
    incoming/events/<event-id>.json               every other event (boards, moderation, archival)
    hourly/YYYY/MM/DD/HH.jsonl.gz (+ .manifest.json)   rolled-up hours
    snapshots/...                                   see board/lifecycle

A numbered post's key is its number, not its id: the conditional put on that
key is what makes res numbers unique, in the log itself, whatever Redis knows.
For that to hold after rollup, the rollup keeps each live thread's highest
claim and marks it rolled (board/lifecycle/rollup.py): a thread's claims in
incoming/ always show its highest number. And since the rollup deletes
claims only up to a floor it wrote first, with every gap below it voided
(board/lifecycle/claims.py), a number above the floor that no claim holds
was never written: board/log/claims.py reads the gaps from one listing.
"""

from __future__ import annotations

from typing import NamedTuple

from board.events import Event, EventType

INCOMING = "incoming/"
INCOMING_POSTS = "incoming/posts/"
INCOMING_EVENTS = "incoming/events/"

CLAIM = ".json"
MARKER = ".rolled"
FLOOR = ".floor"

NUMBERED = frozenset({EventType.THREAD_CREATED, EventType.POST_CREATED})


class PostKey(NamedTuple):
    """What a key under incoming/posts/ names: a claim, the marker of one, or a floor (``kind``: the suffix)."""

    board: str
    thread: str
    number: int
    kind: str

    @property
    def marker(self) -> bool:
        """Whether the key is anything but a claim (a marker or a floor): it holds no event."""
        return self.kind != CLAIM


def post_key(board: str, thread: str, number: int) -> str:
    return f"{INCOMING_POSTS}{board}/{thread}/{number:04d}{CLAIM}"


def marker_key(board: str, thread: str, number: int) -> str:
    """The marker saying the claim of that number was kept by a rollup that already wrote its event to hourly/."""
    return f"{INCOMING_POSTS}{board}/{thread}/{number:04d}{MARKER}"


def floor_key(board: str, thread: str, number: int) -> str:
    """The floor saying every number of the thread up to this one was committed (none is a gap)."""
    return f"{INCOMING_POSTS}{board}/{thread}/{number:04d}{FLOOR}"


def thread_prefix(board: str, thread: str) -> str:
    """Every claim and marker of one thread."""
    return f"{INCOMING_POSTS}{board}/{thread}/"


def parse_post_key(key: str) -> PostKey | None:
    """The board, thread and number of a claim or marker key; None for any other key."""
    if not key.startswith(INCOMING_POSTS):
        return None
    parts = key[len(INCOMING_POSTS) :].split("/")
    if len(parts) != 3:
        return None
    board, thread, name = parts
    number, dot, suffix = name.partition(".")
    if not (board and thread and dot and number.isascii() and number.isdigit()):
        return None
    kind = f".{suffix}"
    if kind in (CLAIM, MARKER, FLOOR):
        return PostKey(board, thread, int(number), kind)
    return None


def is_marker(key: str) -> bool:
    return key.startswith(INCOMING_POSTS) and key.endswith(MARKER)


def is_floor(key: str) -> bool:
    return key.startswith(INCOMING_POSTS) and key.endswith(FLOOR)


def claim_of_marker(key: str) -> str:
    """The claim key a marker key marks."""
    return key[: -len(MARKER)] + CLAIM


def incoming_key(event: Event) -> str:
    """The key an event is committed under."""
    if event.type in NUMBERED:
        assert event.thread is not None and event.number is not None
        return post_key(event.board, event.thread, event.number)
    return f"{INCOMING_EVENTS}{event.id}.json"
