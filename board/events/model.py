"""The event envelope and its canonical encoding.

An event is small, immutable and named in the past tense. Its id is a ULID, so
sorting events by id sorts them by commit time; the envelope carries a schema
version so that old logs stay readable when payloads grow.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from ulid import ULID

SCHEMA_VERSION = 1


class EventType:
    BOARD_CREATED = "BoardCreated"  # every setting, the ones not given at their defaults
    BOARD_SETTINGS_CHANGED = "BoardSettingsChanged"  # only the settings given; the others stay
    THREAD_CREATED = "ThreadCreated"
    POST_CREATED = "PostCreated"
    THREAD_ARCHIVED = "ThreadArchived"
    THREAD_RESTORED = "ThreadRestored"  # back from the archive
    THREAD_STOPPED = "ThreadStopped"  # スレスト: read-only, still live
    THREAD_RESUMED = "ThreadResumed"
    POST_DELETED = "PostDeleted"
    POST_PURGED = "PostPurged"  # deleted, and its text rewritten out of the log (board/lifecycle/purge.py)
    POSTER_BANNED = "PosterBanned"
    BAN_LIFTED = "BanLifted"
    POST_REPORTED = "PostReported"  # 削除依頼 from a reader
    REPORT_RESOLVED = "ReportResolved"  # a moderator accepted or dismissed it
    MODERATOR_CREATED = "ModeratorCreated"  # an account of the moderation site (board "*")
    MODERATOR_CHANGED = "ModeratorChanged"
    MODERATOR_PURGED = "ModeratorPurged"  # deactivated, its password and cap hashes rewritten out of the log

    ALL = frozenset(
        {
            BOARD_CREATED,
            BOARD_SETTINGS_CHANGED,
            THREAD_CREATED,
            POST_CREATED,
            THREAD_ARCHIVED,
            THREAD_RESTORED,
            THREAD_STOPPED,
            THREAD_RESUMED,
            POST_DELETED,
            POST_PURGED,
            POSTER_BANNED,
            BAN_LIFTED,
            POST_REPORTED,
            REPORT_RESOLVED,
            MODERATOR_CREATED,
            MODERATOR_CHANGED,
            MODERATOR_PURGED,
        }
    )


# Events about the site rather than one board carry this as their board.
SITE = "*"


BoardCreated = EventType.BOARD_CREATED
ThreadCreated = EventType.THREAD_CREATED
PostCreated = EventType.POST_CREATED
ThreadArchived = EventType.THREAD_ARCHIVED
PostDeleted = EventType.POST_DELETED
PosterBanned = EventType.POSTER_BANNED


class MalformedEvent(ValueError):
    """Raised when bytes read from the log are not an event this code can read."""


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    time: int  # milliseconds since the epoch, UTC; the same instant the ULID encodes
    board: str
    thread: str | None = None
    number: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    v: int = SCHEMA_VERSION

    @property
    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.time / 1000, tz=UTC)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "time": self.time,
            "board": self.board,
            "thread": self.thread,
            "number": self.number,
            "payload": self.payload,
            "v": self.v,
        }


_last_ulid = ULID.from_int(0)
_ulid_lock = threading.Lock()


def _next_ulid(at: datetime | None) -> ULID:
    """A ULID greater than every one this process made before.

    Two posts in the same millisecond must still sort in the order they were
    made (bump order is id order), so within a millisecond the id counts up.
    """
    global _last_ulid
    if at is not None:
        return ULID.from_datetime(at)
    with _ulid_lock:
        ulid = ULID()
        if int(ulid) <= int(_last_ulid):
            ulid = ULID.from_int(int(_last_ulid) + 1)
        _last_ulid = ulid
        return ulid


def new_event(
    type: str,
    board: str,
    thread: str | None = None,
    number: int | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Build an event with a fresh ULID whose timestamp is its time."""
    ulid = _next_ulid(at)
    return Event(
        id=str(ulid),
        type=type,
        time=ulid.milliseconds,
        board=board,
        thread=thread,
        number=number,
        payload=payload or {},
    )


def encode(event: Event) -> bytes:
    """Canonical bytes: the same event always encodes to the same line (as the readmodel's dumps)."""
    return orjson.dumps(event.as_dict(), option=orjson.OPT_SORT_KEYS)


def decode(data: bytes | str) -> Event:
    """Parse one encoded event; raise MalformedEvent with the reason if it is not one."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # invalid UTF-8 too
        raise MalformedEvent(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedEvent("not a JSON object")
    missing = {"id", "type", "time", "board"} - raw.keys()
    if missing:
        raise MalformedEvent(f"missing fields: {', '.join(sorted(missing))}")
    if raw.get("v", SCHEMA_VERSION) > SCHEMA_VERSION:
        raise MalformedEvent(f"schema version {raw['v']} is newer than this code ({SCHEMA_VERSION})")
    if raw["type"] not in EventType.ALL:
        raise MalformedEvent(f"unknown event type {raw['type']!r}")
    return Event(
        id=raw["id"],
        type=raw["type"],
        time=int(raw["time"]),
        board=raw["board"],
        thread=raw.get("thread"),
        number=raw.get("number"),
        payload=raw.get("payload") or {},
        v=raw.get("v", SCHEMA_VERSION),
    )
