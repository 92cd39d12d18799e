"""The purge list: posts and accounts whose text must never be read back from the log.

Each purge is one small object under ``purges/``, named by what it purges,
never holding the purged text::

    purges/posts/<board>/<thread>/<nnnn>.json   a post: where to look for it, how far the sweep got
    purges/accounts/<username>.json             a moderator account: its password and cap hashes

The names alone are the list: loading it is one listing per kind, no reads,
so every reader of the log loads it afresh when it starts (a segment, the
incoming tail) and nothing purged is ever read back, whether or not the
object holding it has been rewritten yet (board/lifecycle/purge.py rewrites
them). The bodies say where a sweep should look (the post's time, or the
bounds of it) and what it has done; only the sweep reads them.

What a purge takes out of an event: a post's name, mail (``sage`` stays: the
thread's order depends on it), body and daily ID, as a snapshot does for a
deleted post, marked ``purged`` so that the post is あぼーん in every restore;
for a thread's first post its subject too, which becomes あぼーん (a deletion
keeps the title, as 2ch does, but purged text is gone wherever it was typed);
an account's password hash and cap key hashes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from board.events import Event, EventType
from board.formats.dat import PURGED_TITLE
from board.log import AlreadyExists, BaseLog, NotFound

PREFIX = "purges/"
POSTS = "purges/posts/"
ACCOUNTS = "purges/accounts/"
DONE = "purges/done/"  # an empty marker per purge the sweeps have finished: their entries are not read again
SUFFIX = ".json"

NUMBERED = frozenset({EventType.THREAD_CREATED, EventType.POST_CREATED})
ACCOUNT_EVENTS = frozenset({EventType.MODERATOR_CREATED, EventType.MODERATOR_CHANGED})
# What an account event may carry that a purge takes out: hashes of the password and of cap keys.
SECRETS = ("password", "cap", "old_cap")


def redacted_post(event: Event, purged: bool = False) -> Event:
    """A post's event without its text: what a snapshot keeps of a deleted post, and what a purge leaves."""
    mail = "sage" if "sage" in str(event.payload.get("mail", "")).lower() else ""
    payload: dict[str, Any] = {"name": "", "mail": mail, "body": "", "id": "", "redacted": True}
    if event.type == EventType.THREAD_CREATED:
        payload["subject"] = PURGED_TITLE if purged else event.payload.get("subject", "")
    if purged:
        payload["purged"] = True
    return dataclasses.replace(event, payload=payload)


def redacted_account(event: Event) -> Event:
    """An account event without its password hash and cap key hashes."""
    payload = {k: v for k, v in event.payload.items() if k != "old_cap"}
    for name in ("password", "cap"):
        if name in payload:
            payload[name] = ""
    return dataclasses.replace(event, payload={**payload, "redacted": True})


@dataclass(frozen=True)
class PurgeList:
    """The purged posts (board, thread, number) and accounts (usernames), and what reading takes out of them."""

    posts: frozenset[tuple[str, str, int]] = frozenset()
    accounts: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.posts or self.accounts)

    def hits(self, event: Event) -> bool:
        """Whether the event is one of a purged post or account (redacted already or not)."""
        if event.type in NUMBERED:
            return (event.board, event.thread, event.number) in self.posts
        if event.type in ACCOUNT_EVENTS:
            return event.payload.get("username") in self.accounts
        return False

    def holds_text(self, event: Event) -> bool:
        """Whether the event still carries something this list purges (what a rewrite takes out)."""
        if not self.hits(event):
            return False
        if event.type in NUMBERED:
            # A deleted post compacted by a snapshot has no text left, only the mark that it had;
            # a first post keeps its subject through that, so it may still hold the title.
            if event.type == EventType.THREAD_CREATED and event.payload.get("subject") != PURGED_TITLE:
                return True
            return not event.payload.get("redacted")
        return any(event.payload.get(k) for k in SECRETS)

    def redact(self, event: Event) -> Event:
        """The event as it may be read: itself, or without what is purged."""
        if not self.holds_text(event):
            if event.type in NUMBERED and self.hits(event) and not event.payload.get("purged"):
                return redacted_post(event, purged=True)  # compacted already: only marked
            return event
        if event.type in NUMBERED:
            return redacted_post(event, purged=True)
        return redacted_account(event)

    def adding(self, entries: Iterable[Entry]) -> PurgeList:
        """This list with more purges (a dry run's, not recorded)."""
        posts, accounts = set(self.posts), set(self.accounts)
        for entry in entries:
            if entry.is_post:
                posts.add((entry.body["board"], entry.body["thread"], entry.body["number"]))
            else:
                accounts.add(entry.body["username"])
        return PurgeList(frozenset(posts), frozenset(accounts))

    def cleaned(self, events: Iterable[Event]) -> Iterator[Event]:
        """The events as they may be read (hits() inlined: this runs on every event of a restore)."""
        posts, accounts = self.posts, self.accounts
        for event in events:
            kind = event.type
            if (kind in NUMBERED and (event.board, event.thread, event.number) in posts) or (
                kind in ACCOUNT_EVENTS and event.payload.get("username") in accounts
            ):
                yield self.redact(event)
            else:
                yield event


NOTHING = PurgeList()


@dataclass(frozen=True)
class Entry:
    """One purge as its object holds it: what, where to look, and what the sweeps found."""

    key: str
    body: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.key[len(PREFIX) : -len(SUFFIX)]

    @property
    def is_post(self) -> bool:
        return self.key.startswith(POSTS)

    @property
    def recorded(self) -> datetime:
        return datetime.fromisoformat(self.body["recorded"])

    @property
    def done(self) -> bool:
        return bool(self.body.get("done"))

    @property
    def pending(self) -> list[str]:
        return list(self.body.get("pending") or ())


def post_entry_key(board: str, thread: str, number: int) -> str:
    return f"{POSTS}{board}/{thread}/{number:04d}{SUFFIX}"


def account_entry_key(username: str) -> str:
    return f"{ACCOUNTS}{username}{SUFFIX}"


def load(log: BaseLog) -> PurgeList:
    """The purge list from the names under purges/ (a listing per kind, nothing read)."""
    posts = set()
    for info in log.list(POSTS):
        parts = info.key[len(POSTS) : -len(SUFFIX)].split("/")
        if len(parts) == 3 and info.key.endswith(SUFFIX) and parts[2].isdigit():
            posts.add((parts[0], parts[1], int(parts[2])))
    accounts = {
        info.key[len(ACCOUNTS) : -len(SUFFIX)]
        for info in log.list(ACCOUNTS)
        if info.key.endswith(SUFFIX) and "/" not in info.key[len(ACCOUNTS) :]
    }
    if not posts and not accounts:
        return NOTHING
    return PurgeList(frozenset(posts), frozenset(accounts))


def record_post(log: BaseLog, board: str, thread: str, number: int, after: int, before: int) -> Entry:
    """Put a post on the purge list; after and before (ms) bound its time. An entry already there is kept."""
    body = {"board": board, "thread": thread, "number": number, "after": after, "before": before}
    return _record(log, post_entry_key(board, thread, number), body)


def record_account(log: BaseLog, username: str) -> Entry:
    return _record(log, account_entry_key(username), {"username": username})


def _record(log: BaseLog, key: str, body: dict) -> Entry:
    body = {**body, "recorded": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        log.create(key, _dumps(body))
    except AlreadyExists:
        return read_entry(log, key)  # purged before (or a retry of this very request): one purge
    return Entry(key, body)


def read_entry(log: BaseLog, key: str) -> Entry:
    return Entry(key, json.loads(log.read(key)))


def entries(log: BaseLog, open_only: bool = True) -> list[Entry]:
    """The purges (open ones only: done ones are known by their marker and not read), bodies read."""
    done = {info.key[len(DONE) :] for info in log.list(DONE)} if open_only else set()
    found = []
    for prefix in (POSTS, ACCOUNTS):
        for info in log.list(prefix):
            if not info.key.endswith(SUFFIX) or info.key[len(PREFIX) :] in done:
                continue
            try:
                found.append(read_entry(log, info.key))
            except NotFound:
                continue
    return found


def save(log: BaseLog, entry: Entry, **changes: Any) -> Entry:
    """Record what a sweep found about an entry (its object is small and only the sweep changes it)."""
    updated = Entry(entry.key, {**entry.body, **changes})
    log.replace(entry.key, _dumps(updated.body))
    if updated.done:
        log.create(DONE + entry.key[len(PREFIX) :], b"")  # an empty object: the same bytes again are no conflict
    return updated


def _dumps(body: dict) -> bytes:
    return (json.dumps(body, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
