"""Readers' reports (削除依頼): anyone may report a post, moderators accept (delete) or dismiss it.

A report and its resolution are events (PostReported, ReportResolved), kept
per board and JST day (board/readmodel/moderation.py). The queue shows the
open reports of the last QUEUE_DAYS days; an older report left open is not
lost, only off the queue (the audit page and the log still have it).
Reporting is rate limited per address in the cache (best-effort, as cooldowns).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils.translation import gettext

from board.events import Event, EventType, new_event
from board.lib.cache import CACHE_ERRORS
from board.moderation.actions import ModerationError, delete_post, one_line, only_once, reason_text, settle
from board.posting import characters
from board.posting import refusals as r
from board.posting.commit import commit
from board.posting.poster_id import poster_id
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel import queries
from board.readmodel.moderation import JST, day_of
from board.readmodel.projection import read
from board.store import get_store

logger = logging.getLogger(__name__)

REASON_MAX = 200
QUEUE_DAYS = 14
INTERVAL = 60  # seconds between two reports from one address


class TooSoon(Exception):
    """This address reported a moment ago."""


def report(board: str, thread: str, number: int, reason: str, address: str, secret: str) -> Event:
    """File a report (no account needed); raise TooSoon within INTERVAL of this address's last one."""
    found = queries.thread(get_store(), board, thread)
    if found is None or not 1 <= number <= found.count:
        raise ModerationError("該当するレスは存在しません。")
    # Moderators read reasons beside posts: the characters a post may not carry, a reason may not either.
    bad = characters.refused(reason)
    if bad:
        raise ModerationError(r.BAD_CHARACTERS.format(names="、".join(bad[:5])))
    reason = one_line(reason)[:REASON_MAX]
    if not reason:
        raise ModerationError("理由を書いてください。")
    who = poster_id(secret, board, address, datetime.now(JST).date())
    try:
        if not cache.add(f"utakata:report:{board}:{who}", 1, INTERVAL):
            raise TooSoon()
    except CACHE_ERRORS as exc:
        logger.warning("report rate limit not enforced, the cache failed: %s", exc)
    return commit(new_event(EventType.POST_REPORTED, board, thread, number, {"reason": reason}))


def open_reports(boards: list[str], days: int = QUEUE_DAYS) -> list[dict]:
    """The open reports of these boards in the last days, oldest first (the order to handle them in)."""
    store = get_store()
    today = datetime.now(JST).date()
    found = []
    for board in boards:
        for n in range(days):
            day = f"{today - timedelta(days=n):%Y%m%d}"
            state = e.loads(read(store, o.REPORTS, f"{board}/{day}"))
            for report_id, entry in (state or {"reports": {}})["reports"].items():
                if entry["state"][1] == "open" and "thread" in entry:
                    found.append({**entry, "id": report_id, "board": board, "day": day})
    found.sort(key=lambda r: r["id"])
    return found


def resolve(board: str, report_id: str, accept: bool, by: str, reason: str = "") -> list[Event]:
    """Accept a report (its post is deleted) or dismiss it; a report resolved already is refused."""
    try:
        day = day_of(int(_time_of(report_id)))
    except ValueError as exc:  # not a ULID, or one of no time a day can hold
        raise ModerationError(
            gettext("no report %(report)r on /%(board)s/") % {"report": report_id[:40], "board": board}
        ) from exc
    reason = reason_text(reason)
    done = []
    with only_once("resolve", board, report_id):  # an accept and a dismiss at once, too: one is done
        state = e.loads(read(get_store(), o.REPORTS, f"{board}/{day}"))
        entry = (state or {"reports": {}})["reports"].get(report_id)
        if entry is None or "thread" not in entry:
            raise ModerationError(
                gettext("no report %(report)r on /%(board)s/") % {"report": report_id, "board": board}
            )
        if entry["state"][1] != "open":
            # A dismissed report accepted later would delete the post a moderator chose to keep.
            resolved = (
                gettext("report %(report)s was accepted already")
                if entry["state"][1] == "accepted"
                else gettext("report %(report)s was dismissed already")
            )
            raise ModerationError(resolved % {"report": report_id})
        if accept:
            posts = queries.posts(get_store(), board, entry["thread"], [entry["number"]])
            if posts and not posts[0].get("deleted"):
                done.append(delete_post(board, entry["thread"], entry["number"], reason or entry["reason"], by))
        payload = {"report": report_id, "day": day, "state": "accepted" if accept else "dismissed", "by": by}
        done.append(
            settle(
                new_event(
                    EventType.REPORT_RESOLVED, board, entry["thread"], entry["number"], {**payload, "reason": reason}
                )
            )
        )
    return done


def _time_of(event_id: str) -> int:
    from ulid import ULID

    return ULID.from_str(event_id).milliseconds
