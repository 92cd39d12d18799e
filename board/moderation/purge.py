"""Purge requests: a superuser's "this text must not be kept" for a post or a moderator account.

A purge first goes on the purge list (board/lifecycle/purgelist.py), so that
from then on no read of the log shows the text, then commits its event (the
deletion, あぼーん, for a post; the deactivation for an account), which the
audit lists like every action, then asks the workers for a sweep
(board/lifecycle/purge.py) that rewrites the text out of the log's objects.
A request that fails half-way is simply made again: the list entry already
there is kept.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.utils.translation import gettext
from ulid import ULID

from board.events import SITE, Event, EventType, new_event
from board.lifecycle import purgelist
from board.lifecycle.purgelist import Entry
from board.log import get_log
from board.moderation import accounts
from board.moderation.actions import ModerationError, applied, existing_thread, only_once, who
from board.posting.commit import commit
from board.readmodel import queries
from board.store import get_store

logger = logging.getLogger(__name__)


def _post(board: str, thread: str, number: int) -> tuple[dict, dict]:
    """(where the sweep looks for the post, where the search index has it), from the store.

    The post's own time while the store still has it; once deleted, from its
    thread's creation (the key is its second) to its deletion (a ULID
    carries its time).
    """
    found = existing_thread(board, thread)
    if not 1 <= number <= found.count:
        raise ModerationError(
            gettext("thread %(board)s/%(thread)s has posts 1..%(count)d, not %(number)d")
            % {"board": board, "thread": thread, "count": found.count, "number": number}
        )
    posts = queries.posts(get_store(), board, thread, [number])
    if posts and posts[0].get("purged"):
        raise ModerationError(
            gettext("post %(board)s/%(thread)s/%(number)d is purged already")
            % {"board": board, "thread": thread, "number": number}
        )
    after, before = int(thread) * 1000, new_event(EventType.POST_PURGED, board).time
    indexed = {}
    if posts and not posts[0].get("deleted"):
        after = before = posts[0]["time"]
        indexed = {"posted": posts[0]["time"], "posted_event": posts[0]["event"]}
    elif posts:
        before = ULID.from_str(posts[0]["event"]).milliseconds
    return {"board": board, "thread": thread, "number": number, "after": after, "before": before}, indexed


def planned_post(board: str, thread: str, number: int) -> Entry:
    """The purge of a post as it would be recorded (for a dry run: nothing is written)."""
    target, _ = _post(board, thread, number)
    return Entry(purgelist.post_entry_key(board, thread, number), {**target, "recorded": _now()})


def planned_account(username: str) -> Entry:
    account = accounts.get(username)
    if account is None:
        raise ModerationError(gettext("no account %(username)r") % {"username": username})
    if account.purged:
        raise ModerationError(gettext("account %(username)r is purged already") % {"username": username})
    return Entry(purgelist.account_entry_key(username), {"username": username, "recorded": _now()})


def purge_post(board: str, thread: str, number: int, reason: str, by: str) -> Event:
    """Put a post on the purge list, delete it (numbering kept), and queue the sweep."""
    with only_once("purge", board, thread, number):
        target, indexed = _post(board, thread, number)
        purgelist.record_post(get_log(), board, thread, number, target["after"], target["before"])
        event = commit(new_event(EventType.POST_PURGED, board, thread, number, who(by, reason) | indexed))
        # Not settle(): the sweep is queued once the event is committed, even if the store cannot apply it now.
        queue_sweep()
        return applied(event)


def purge_account(username: str, reason: str, by: str) -> Event:
    """Put an account on the purge list (its password and cap hashes), deactivate it, and queue the sweep."""
    if username == by:
        raise ModerationError(gettext("an account cannot purge itself"))
    payload = {"username": username, **who(by, reason)}
    with only_once(accounts.CLAIM, username):
        planned_account(username)
        purgelist.record_account(get_log(), username)
        event = commit(new_event(EventType.MODERATOR_PURGED, SITE, payload=payload))
        queue_sweep()  # before applying, as for a post
        return applied(event)


def queue_sweep() -> None:
    """Ask the workers for a sweep now; if the broker is down, the hourly one does it."""
    from board.tasks.lifecycle import purge_sweep

    try:
        purge_sweep.delay()
    except Exception as exc:  # an outage, not a bug: one line (see commit.fan_out)
        logger.warning("purge sweep not queued (%s: %s); the hourly sweep will do it", type(exc).__name__, exc)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
