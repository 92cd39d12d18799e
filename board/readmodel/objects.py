"""The objects the store holds, their keys, and how siblings of each merge.

Every object is a join-semilattice: ``join(a, b)`` is commutative, associative
and idempotent. That is what lets Riak keep siblings and lets events be applied
twice or out of order: whatever order the writes land in, the merged object is
the same.

No object grows with the board's age, and each stays under Riak's 1 MB
comfort limit in the worst case the board's limits allow (boards.py bounds
them; tests/test_object_sizes.py builds the worst cases):

    boards/<board>             the board's settings
    index/boards               the list of boards
    threads/<board>            the live threads (at most the thread cap), plus
                               archived ones for TOMBSTONE_MS so that a late
                               write cannot bring them back
    thread/<board>/<key>       one thread: its entry, its pages' dat sizes,
                               post 1 and its last RECENT posts (board tops)
    posts/<board>/<key>/<page> POSTS_PER_PAGE posts, with their dat lines and HTML
    archive/<board>/<window>   archived threads created in one 1000-second window
                               (thread keys are seconds: at most 1000 each)
    kako/<board>               the months that have archived threads
    kako/<board>/<YYYY-MM>     the windows of one month that have archived threads
    bans/<board>/<day>         the daily IDs banned on one JST day

and for the moderation site (board/moderation/):

    accounts/index, accounts/<username>   moderators (per field, the latest event's value)
    postindex/<board>/<slot>/<shard>       summaries of the posts of 10 minutes (JST), in 8 shards
    postindexdays/<board>/<day>            the slots and shards of a JST day that have posts
    reports/<board>/<day>                  readers' reports (削除依頼) of a JST day, and how each ended
    audit/<YYYYmmddHH>                     the moderators' actions of a JST hour (a day's were one object:
                                           unbounded on a busy day, and rewritten whole at each action)

Values are encoded by encoding.py, which adds the bytes pages are served
from (dat lines, HTML, subject.txt) beside each state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from board.formats.dat import PURGED_TITLE
from board.formats.dates import JST

POSTS_PER_PAGE = 25  # with the dat lines and HTML of its posts, under 1 MB at the limits' bounds
RECENT = 10  # posts a thread object keeps for board tops: the bound of top_posts
TOMBSTONE_MS = 300_000  # how long an archived thread stays marked in its board's live list
WINDOW_DIGITS = 7  # archive objects group thread keys by their first 7 digits (1000 seconds)

# Buckets: one per kind of object.
BOARDS = "boards"
INDEX = "index"
THREADS = "threads"
THREAD = "thread"
POSTS = "posts"
ARCHIVE = "archive"
KAKO = "kako"
BANS = "bans"
ACCOUNTS = "accounts"
POST_INDEX = "postindex"
POST_INDEX_DAYS = "postindexdays"
REPORTS = "reports"
AUDIT = "audit"
AUDIT_SHARDS = 16  # objects an hour of actions is shared out to (moderation.audit_key)
POST_INDEX_SHARDS = 8
ACCOUNT_INDEX_KEY = "index"

BOARD_INDEX_KEY = "boards"

State = dict[str, Any]


def page_of(number: int) -> int:
    return (number - 1) // POSTS_PER_PAGE


def posts_key(board: str, thread: str, page: int) -> str:
    return f"{board}/{thread}/{page}"


def split_posts_key(key: str) -> tuple[str, str, int]:
    board, thread, page = key.split("/")
    return board, thread, int(page)


def thread_key(board: str, thread: str) -> str:
    return f"{board}/{thread}"


def split_thread_key(key: str) -> tuple[str, str]:
    board, _, thread = key.partition("/")
    return board, thread


def window_of(thread: str) -> str:
    return thread[:WINDOW_DIGITS]


def month_of(thread: str) -> str:
    """The month (JST) a thread was created in: its key is its creation time in seconds."""
    return datetime.fromtimestamp(int(thread), tz=JST).strftime("%Y-%m")


def archive_key(board: str, thread: str) -> str:
    return f"{board}/{window_of(thread)}"


def bans_key(board: str, day: str) -> str:
    return f"{board}/{day}"


# --- entries ----------------------------------------------------------------

STATE_RANK = {"live": 0, "archived": 1}


def thread_entry(
    title: str = "",
    created: int = 0,
    count: int = 0,
    bumped: str = "",
    updated: int = 0,
    state: str = "live",
    state_event: str = "",
    stopped: bool | None = None,
    stop_event: str = "",
    title_purged: bool = False,
) -> State:
    """A thread's entry. ``state`` (live or archived) and ``stopped`` are each set by the
    latest moderation event that set them (``state_event``, ``stop_event``), so a thread can
    go to the archive and come back; posts leave both alone. ``title_purged`` marks a thread
    whose first post was purged: its title is PURGED_TITLE whatever order the events come in."""
    entry = {"title": title, "created": created, "count": count, "bumped": bumped, "updated": updated, "state": state}
    if state_event:
        entry["state_event"] = state_event
    if stop_event:
        entry["stop_event"], entry["stopped"] = stop_event, bool(stopped)
    if title_purged:
        entry["title"], entry["title_purged"] = PURGED_TITLE, True
    return entry


def _title(a: State, b: State) -> tuple[str, bool]:
    """The joined title, and whether it was purged (a purge wins over the title it takes out)."""
    if a.get("title_purged") or b.get("title_purged"):
        return PURGED_TITLE, True
    # Only ThreadCreated sets a title, so there is one; max() keeps the join commutative anyway.
    return max(a.get("title", ""), b.get("title", "")), False


def join_thread_entry(a: State, b: State) -> State:
    state_a, state_b = a.get("state_event", ""), b.get("state_event", "")
    if state_a != state_b:
        state = a if state_a > state_b else b
    else:  # equal events (or none): the same state, or the archived one, whichever came first
        state = a if STATE_RANK[a["state"]] >= STATE_RANK[b["state"]] else b
    title, purged = _title(a, b)
    joined = {
        "title": title,
        "created": max(a["created"], b["created"]),
        "count": max(a["count"], b["count"]),
        "bumped": max(a["bumped"], b["bumped"]),
        "updated": max(a["updated"], b["updated"]),
        "state": state["state"],
    }
    if state.get("state_event"):
        joined["state_event"] = state["state_event"]
    stop = a if a.get("stop_event", "") >= b.get("stop_event", "") else b
    if stop.get("stop_event"):
        joined["stop_event"], joined["stopped"] = stop["stop_event"], stop["stopped"]
    if purged:
        joined["title_purged"] = True
    return joined


def join_post(a: State, b: State) -> State:
    """A deletion wins over the post it deletes, whichever arrives first."""
    if a.get("deleted") != b.get("deleted"):
        return a if a.get("deleted") else b
    return a if a.get("event", "") >= b.get("event", "") else b


def _join_map(a: dict, b: dict, join: Callable[[Any, Any], Any]) -> dict:
    return _absorb_map(dict(a), b, join)


def _absorb_map(held: dict, b: dict, join: Callable[[Any, Any], Any]) -> dict:
    """_join_map, changing held in place."""
    for key, value in b.items():
        mine = held.get(key)
        held[key] = value if mine is None else join(mine, value)
    return held


# --- joins ------------------------------------------------------------------


def join_board(a: State, b: State) -> State:
    """Board settings, setting by setting: each holds the value of the latest event that set it.

    BoardCreated sets every setting (the ones it does not name to their
    defaults), so a board created again is reset, as it always was;
    BoardSettingsChanged sets only those it names.
    """
    return {"s": _join_map(a["s"], b["s"], lambda x, y: x if x[0] >= y[0] else y)}


def join_index(a: State, b: State) -> State:
    return {"boards": _join_map(a["boards"], b["boards"], lambda x, y: x if x["event"] >= y["event"] else y)}


def gather_threads(a: State, b: State) -> State:
    """join_threads without dropping fallen threads' marks: for deltas held before they reach the store.

    A mark must meet every older entry of its thread before it may go: a
    batch that dropped it early would let the thread's older live entry,
    held from before it fell, bring it back. The store's join drops it.
    """
    joined: State = {"threads": _join_map(a["threads"], b["threads"], join_thread_entry)}
    settings = [s for s in (a.get("settings"), b.get("settings")) if s]
    if settings:
        joined["settings"] = max(settings, key=lambda s: s["event"])
    return joined


def join_threads(a: State, b: State) -> State:
    """A board's live list: entries joined, archived ones dropped once TOMBSTONE_MS older than the newest change.

    The cut depends only on the joined state (its newest ``updated``, which
    only grows), so joining stays order-free. ``settings`` is what the list's
    bytes depend on (the stop count shown for full threads), the later event's.
    """
    threads = _join_map(a["threads"], b["threads"], join_thread_entry)
    newest = max((e["updated"] for e in threads.values()), default=0)
    horizon = newest - TOMBSTONE_MS
    # A fallen thread is only a mark here (its title is in the archive), so the marks stay small.
    kept = {k: e if e["state"] == "live" else _mark(e) for k, e in threads.items()}
    joined: State = {"threads": {k: e for k, e in kept.items() if e["state"] == "live" or e["updated"] >= horizon}}
    settings = [s for s in (a.get("settings"), b.get("settings")) if s]
    if settings:
        joined["settings"] = max(settings, key=lambda s: s["event"])
    return joined


def _mark(entry: State) -> State:
    return {**{k: v for k, v in entry.items() if k != "title_purged"}, "title": ""}


def join_thread(a: State, b: State) -> State:
    """One thread: its entry, its pages' dat sizes (larger fp wins), post 1 and its last posts."""
    held = {key: dict(value) if key in ("pages", "recent") else value for key, value in a.items()}
    return absorb_thread(held, b)


def _later_page(mine: State, theirs: State) -> State:
    """Of two entries of one page, the one with the larger fingerprint (more lines, more deleted)."""
    return theirs if theirs["fp"] > mine["fp"] else mine


def absorb_thread(held: State, delta: State) -> State:
    """join_thread(held, delta), made by changing held in place (held must be a state nobody else holds).

    A restore joins a delta into a thread object at every post; copying its
    maps each time cost more than the join itself. join_thread copies the
    maps this changes, then absorbs.
    """
    theirs = delta.get("thread")
    if theirs:
        mine = held.get("thread")
        held["thread"] = join_thread_entry(mine, theirs) if mine else theirs
    if delta.get("pages"):
        _absorb_map(held.setdefault("pages", {}), delta["pages"], _later_page)
    first = delta.get("first")
    if first:
        mine = held.get("first")
        held["first"] = join_post(mine, first) if mine else first
    if delta.get("recent"):
        recent = _absorb_map(held.setdefault("recent", {}), delta["recent"], join_post)
        while len(recent) > RECENT:
            del recent[min(recent, key=int)]
    return held


def join_posts(a: State, b: State) -> State:
    """Posts merge number by number; the title (page 0) rides along."""
    joined: State = {"posts": _join_map(a["posts"], b["posts"], join_post)}
    title, purged = _title(a, b)
    if title:
        joined["title"] = title
    if purged:
        joined["title_purged"] = True
    return joined


def join_archive(a: State, b: State) -> State:
    return {"threads": _join_map(a["threads"], b["threads"], join_thread_entry)}


def join_kako(a: State, b: State) -> State:
    """A set of months (per board) or of windows (per month): only grows."""
    return {"items": sorted(set(a["items"]) | set(b["items"]))}


def join_bans(a: State, b: State) -> State:
    """A day's bans, ID by ID: banned or lifted by the latest event ([event, banned])."""
    return {"ids": _join_map(a["ids"], b["ids"], lambda x, y: x if x[0] >= y[0] else y)}


def _latest(x: list, y: list) -> list:
    """Of two [event, value] pairs, the later event's."""
    return x if x[0] >= y[0] else y


def join_fields(a: State, b: State) -> State:
    """Fields each set by the latest event that set it: {"f": {field: [event, value]}}."""
    return {"f": _join_map(a["f"], b["f"], _latest)}


def join_summaries(a: State, b: State) -> State:
    """Post summaries by thread/number: a deletion wins, as for the posts themselves."""
    return {"posts": _join_map(a["posts"], b["posts"], join_post)}


def _join_report(x: State, y: State) -> State:
    """A report: its own fields (from the report event, whichever side has them) and its latest state."""
    fields = x if "thread" in x else y
    return {**fields, "state": _latest(x["state"], y["state"])}


def join_reports(a: State, b: State) -> State:
    return {"reports": _join_map(a["reports"], b["reports"], _join_report)}


def join_audit(a: State, b: State) -> State:
    return {"actions": _join_map(a["actions"], b["actions"], lambda x, y: x)}  # one event, one entry


JOINS: dict[str, Callable[[State, State], State]] = {
    BOARDS: join_board,
    INDEX: join_index,
    THREADS: join_threads,
    THREAD: join_thread,
    POSTS: join_posts,
    ARCHIVE: join_archive,
    KAKO: join_kako,
    BANS: join_bans,
    ACCOUNTS: join_fields,
    POST_INDEX: join_summaries,
    POST_INDEX_DAYS: join_kako,
    REPORTS: join_reports,
    AUDIT: join_audit,
}
