"""What the moderation site reads: accounts, recent posts, reports and the audit trail, as deltas.

These objects are kept by the projection like the pages' objects, so they
are rebuilt by rehydrate and work on Riak: a key per moderator, per
10-minute slot of posts (in shards), per day of reports and of actions. None
grows with the board's age; the store has no queries, so a search reads the
slots of the days it covers (board/moderation/search.py).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache

from board.events import Event, EventType
from board.formats.dates import JST
from board.readmodel import objects as o

Delta = tuple[str, str, o.State]

SUMMARY_CHARS = 200  # of a post's body kept in the search index
_TRIP_RE = re.compile(r"◆([./0-9A-Za-z]{8,12}|\?\?\?)$")
MODERATION = frozenset(
    {
        EventType.BOARD_CREATED,
        EventType.BOARD_SETTINGS_CHANGED,
        EventType.THREAD_ARCHIVED,
        EventType.THREAD_RESTORED,
        EventType.THREAD_STOPPED,
        EventType.THREAD_RESUMED,
        EventType.POST_DELETED,
        EventType.POST_PURGED,
        EventType.POSTER_BANNED,
        EventType.BAN_LIFTED,
        EventType.REPORT_RESOLVED,
        EventType.MODERATOR_CREATED,
        EventType.MODERATOR_CHANGED,
        EventType.MODERATOR_PURGED,
    }
)
ACCOUNT_FIELDS = ("uid", "password", "superuser", "boards", "active", "cap_name", "cap")


def jst(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=JST)


def day_of(ms: int) -> str:
    hour = _jst_hour(ms // 3_600_000)
    return hour[0] if hour is not None else f"{jst(ms):%Y%m%d}"


def hour_of(ms: int) -> str:
    """The JST hour of a time, ``YYYYmmddHH``."""
    hour = _jst_hour(ms // 3_600_000)
    return hour[1] if hour is not None else f"{jst(ms):%Y%m%d%H}"


def audit_key(ms: int, event_id: str) -> str:
    """The audit object of an action: its JST hour, in a shard by its event id (``YYYYmmddHH/shard``).

    One click can be a thousand actions (every post of an ID deleted, each
    with the same 500-character reason, about 1.7 KB apiece): in one object
    a JST hour's would pass 1 MB; shared out, each holds about a sixteenth.
    """
    return f"{hour_of(ms)}/{zlib.crc32(event_id.encode('ascii')) % o.AUDIT_SHARDS}"


def slot_of(ms: int) -> str:
    hour = _jst_hour(ms // 3_600_000)
    if hour is None:
        t = jst(ms)
        return f"{t:%Y%m%d%H}{t.minute // 10}"
    return f"{hour[1]}{ms % 3_600_000 // 600_000}"


@lru_cache(maxsize=4096)
def _jst_hour(hour: int) -> tuple[str, str] | None:
    """The JST day and ``YYYYmmddHH`` of UTC hour ``hour`` (since the epoch), or None if it starts off the hour.

    Every post goes into a slot, and the zone lookup was most of the cost of
    finding it (as for post dates, board/formats/dates.py): Japan's offset
    only ever changed on the hour, so within an hour JST starts on the hour
    the minutes are the UTC ones.
    """
    t = jst(hour * 3_600_000)
    if t.minute or t.second:
        return None
    return f"{t:%Y%m%d}", f"{t:%Y%m%d%H}"


def shard_of(event_id: str | bytes) -> int:
    """The search index's shard of a post, by its event id (as text or, read from a log line, bytes)."""
    return zlib.crc32(event_id if isinstance(event_id, bytes) else event_id.encode("ascii")) % o.POST_INDEX_SHARDS


def index_key(board: str, posted_ms: int, posted_event: str) -> str:
    return f"{board}/{slot_of(posted_ms)}/{shard_of(posted_event)}"


def trip_of(name: str) -> str:
    found = _TRIP_RE.search(name)
    return found.group(1) if found else ""


def index_shard(event: Event) -> int | None:
    """The search index's shard an event writes an entry to (None: it writes none)."""
    if event.type in (EventType.THREAD_CREATED, EventType.POST_CREATED):
        return shard_of(event.id)
    if event.type in (EventType.POST_DELETED, EventType.POST_PURGED) and event.payload.get("posted_event"):
        return shard_of(event.payload["posted_event"])
    return None


def index_deltas(event: Event) -> Iterator[Delta]:
    """The search index's objects an event touches: its post's summary (or tombstone) and the day's slots."""
    board, p = event.board, event.payload
    if event.type in (EventType.THREAD_CREATED, EventType.POST_CREATED) and (p.get("redacted") or p.get("void")):
        # A deleted post as a snapshot keeps it (its text gone), and a void: the index keeps it deleted.
        key = index_key(board, event.time, event.id)
        tombstone = {"deleted": True, "event": event.id, "n": event.number, "t": event.thread}
        yield o.POST_INDEX, key, {"posts": {f"{event.thread}/{event.number}": tombstone}}
        yield o.POST_INDEX_DAYS, f"{board}/{day_of(event.time)}", {"items": [key.split("/", 1)[1]]}
    elif event.type in (EventType.THREAD_CREATED, EventType.POST_CREATED):
        summary = {
            "t": event.thread,
            "n": event.number,
            "time": event.time,
            "id": p.get("id", ""),
            "name": p["name"],
            "trip": trip_of(p["name"]),
            "body": p["body"][:SUMMARY_CHARS],
            "event": event.id,
        }
        key = index_key(board, event.time, event.id)
        yield o.POST_INDEX, key, {"posts": {f"{event.thread}/{event.number}": summary}}
        yield o.POST_INDEX_DAYS, f"{board}/{day_of(event.time)}", {"items": [key.split("/", 1)[1]]}
    elif event.type in (EventType.POST_DELETED, EventType.POST_PURGED) and p.get("posted_event"):
        tombstone = {"deleted": True, "event": event.id, "n": event.number, "t": event.thread}
        key = index_key(board, p["posted"], p["posted_event"])
        yield o.POST_INDEX, key, {"posts": {f"{event.thread}/{event.number}": tombstone}}


def deltas(event: Event, index: bool = True) -> Iterator[Delta]:
    """The moderation site's objects an event touches (without the search index's: ``index=False``)."""
    if index:
        yield from index_deltas(event)
    board, p = event.board, event.payload
    if event.type == EventType.POST_REPORTED:
        report = {"thread": event.thread, "number": event.number, "reason": p.get("reason", ""), "time": event.time}
        state = [event.id, "open"]
        yield o.REPORTS, f"{board}/{day_of(event.time)}", {"reports": {event.id: {**report, "state": state}}}
    elif event.type == EventType.REPORT_RESOLVED:
        state = [event.id, p["state"]]
        yield o.REPORTS, f"{board}/{p['day']}", {"reports": {p["report"]: {"state": state}}}
    elif event.type in (EventType.MODERATOR_CREATED, EventType.MODERATOR_CHANGED):
        fields = {k: [event.id, p[k]] for k in ACCOUNT_FIELDS if k in p}
        if event.type == EventType.MODERATOR_CREATED:
            fields.setdefault("active", [event.id, True])
            yield o.ACCOUNTS, o.ACCOUNT_INDEX_KEY, {"f": {p["username"]: [event.id, p["uid"]]}}
        yield o.ACCOUNTS, p["username"], {"f": fields}
        if p.get("old_cap"):  # a cap replaced or withdrawn: its key opens nothing any more
            yield o.ACCOUNTS, "caps", {"f": {p["old_cap"]: [event.id, None]}}
        if p.get("cap"):  # the caps' index: keyed hash -> [cap name, moderator]
            yield o.ACCOUNTS, "caps", {"f": {p["cap"]: [event.id, [p.get("cap_name", ""), p["username"]]]}}
    elif event.type == EventType.MODERATOR_PURGED:
        # The hashes go from the account (the latest event sets each field); the event itself names none.
        # "purged" marks it so that it is not purged again, nor made active (board/moderation/).
        cleared = {"active": False, "password": "", "cap_name": "", "cap": "", "purged": True}
        yield o.ACCOUNTS, p["username"], {"f": {k: [event.id, v] for k, v in cleared.items()}}
    if event.type in MODERATION and "by" in p:
        yield o.AUDIT, audit_key(event.time, event.id), {"actions": {event.id: audit_entry(event)}}


def audit_entry(event: Event) -> o.State:
    """An action as the audit page lists it: what, where, who, why (never a password)."""
    p = event.payload
    # "redacted": an account event read back without its hashes after a purge lists as it did before.
    secret = ("by", "reason", "password", "uid", "posted", "posted_event", "cap", "old_cap", "redacted")
    detail = {k: v for k, v in p.items() if k not in secret}
    return {
        "type": event.type,
        "board": event.board,
        "thread": event.thread,
        "number": event.number,
        "by": p["by"],
        "reason": p.get("reason", ""),
        "time": event.time,
        "detail": detail,
    }
