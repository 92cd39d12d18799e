"""What a moderator can do. Each action commits an event naming who did it and why; nothing is edited in place."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

from django.utils.translation import gettext, gettext_lazy

from board.events import Event, EventType, encode, new_event
from board.lib.cache import CACHE_ERRORS
from board.lib.lease import Lease
from board.log import AlreadyExists, LogError, get_log
from board.log.layout import post_key
from board.posting import characters
from board.posting.commit import commit, fan_out
from board.posting.poster_id import jst_day
from board.posting.validation import clean_line
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import StoreError, get_store

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 30  # a claim lapses by then should its process die holding it
HOLD_SECONDS = 5  # a claim outlives an action whose event the store could not apply, while the workers do


# What a moderator is told an action is called: the moderation forms' actions, and the claims
# only_once takes (accounts.CLAIM and boards.CLAIM are the last two).
ACTION_NAMES = {
    "delete": gettext_lazy("delete the post"),
    "purge": gettext_lazy("purge the post"),
    "delete_id": gettext_lazy("delete the ID's posts"),
    "ban": gettext_lazy("ban the ID"),
    "lift": gettext_lazy("lift the ban"),
    "stop": gettext_lazy("stop the thread"),
    "resume": gettext_lazy("resume the thread"),
    "archive": gettext_lazy("archive the thread"),
    "restore": gettext_lazy("restore the thread"),
    "close": gettext_lazy("close the board"),
    "reopen": gettext_lazy("reopen the board"),
    "accept": gettext_lazy("accept the report"),
    "dismiss": gettext_lazy("dismiss the report"),
    "resolve": gettext_lazy("resolve the report"),
    "action on account": gettext_lazy("change the account"),
    "change of board": gettext_lazy("change the board"),
}


class ModerationError(Exception):
    """The action names something that does not exist, or cannot be done to it."""


class UnderWay(ModerationError):
    """The same action on the same target is being done at this moment (its claim is taken)."""


class NotApplied(Exception):
    """The event is committed to the log, but the store could not apply it now: the workers will."""

    def __init__(self, event: Event, error: Exception) -> None:
        # Said in full: whoever saw only the store's error would do it again and commit it twice.
        super().__init__(
            gettext(
                "%(type)s %(id)s is committed to the log, but the store could not apply it now (%(error)s); "
                "the workers apply it once the store answers: do not do it again"
            )
            % {"type": event.type, "id": event.id, "error": error}
        )
        self.event = event


def applied(event: Event) -> Event:
    """Apply a committed event at once, so that its author sees it done whatever the workers do."""
    try:
        apply(get_store(), event)
    except StoreError as exc:
        raise NotApplied(event, exc) from exc
    return event


def settle(event: Event) -> Event:
    """Commit the event and apply it at once."""
    return applied(commit(event))


@contextlib.contextmanager
def only_once(what: str, *target: object) -> Iterator[None]:
    """Check, commit and apply this action on this target in the block only if the same is not under way.

    Two identical actions at once (two moderators, a double click) would both
    pass the store's check ("deleted already") before either is applied. So an
    action claims itself first in the shared cache, atomically (SET NX, as
    posting's once.py does), and checks, commits and applies its event (settle)
    under the claim: the next one to take it finds the store showing it done,
    and is refused saying why; one that comes meanwhile is refused as under way.
    An event the store could not apply keeps the claim HOLD_SECONDS more, while
    the workers apply it. The cache is best-effort here as everywhere: when it
    is down, the store's check alone stands.
    """
    digest = hashlib.sha256("\x00".join(map(str, target)).encode()).hexdigest()[:32]
    claim = Lease(f"moderation:{what.replace(' ', '-')}:{digest}", CLAIM_SECONDS)  # no spaces in a cache key
    try:
        token = claim.take()
    except CACHE_ERRORS as exc:
        logger.warning("%s not claimed, the cache failed: %s", what, exc)
        yield
        return
    if token is None:
        where = "/".join(map(str, target))[:80]
        raise UnderWay(
            gettext("%(what)s %(where)s was just done or is being done (another moderator, a second click?)")
            % {"what": ACTION_NAMES.get(what, what), "where": where}
        )
    hold = 0
    try:
        yield
    except NotApplied:
        hold = HOLD_SECONDS
        raise
    finally:
        claim.release(token, hold=hold)


def existing_thread(board: str, thread: str) -> queries.Thread:
    found = queries.thread(get_store(), board, thread)
    if found is None:
        raise ModerationError(gettext("no thread %(board)s/%(thread)s") % {"board": board, "thread": thread})
    return found


def in_thread(board: str, thread: str, number: int) -> queries.Thread:
    """The thread, if number is one of its posts."""
    found = existing_thread(board, thread)
    if not 1 <= number <= found.count:
        raise ModerationError(
            gettext("thread %(board)s/%(thread)s has posts 1..%(count)d, not %(number)d")
            % {"board": board, "thread": thread, "count": found.count, "number": number}
        )
    return found


def _post(board: str, thread: str, number: int) -> dict:
    in_thread(board, thread, number)
    posts = queries.posts(get_store(), board, thread, [number])
    if not posts:
        raise ModerationError(
            gettext("post %(board)s/%(thread)s/%(number)d is not in the store yet")
            % {"board": board, "thread": thread, "number": number}
        )
    return posts[0]


REASON_MAX = 500  # characters: reasons are kept in the day's audit object, whose size is bounded


def one_line(text: str) -> str:
    """Text as one line: controls and invisible characters removed, runs of spaces made one."""
    return " ".join(characters.without_invisible(clean_line(text)).split())


def reason_text(reason: str) -> str:
    """A moderator's reason as kept: one line without control or invisible characters.

    Refused when it holds a character a post may not carry, or is longer than REASON_MAX.
    """
    bad = characters.refused(reason)
    if bad:
        raise ModerationError(
            gettext("the reason holds characters a post may not carry: %(names)s") % {"names": ", ".join(bad[:5])}
        )
    text = one_line(reason)
    if len(text) > REASON_MAX:
        raise ModerationError(
            gettext("the reason is %(length)d characters long (at most %(limit)d)")
            % {"length": len(text), "limit": REASON_MAX}
        )
    return text


def who(by: str, reason: str) -> dict:
    return {"by": by, "reason": reason_text(reason)}


def delete_post(board: str, thread: str, number: int, reason: str = "", by: str = "operator") -> Event:
    """あぼーん: the post's text is gone from pages, the dat and the next snapshot; its number stays."""
    in_thread(board, thread, number)
    payload = who(by, reason)
    with only_once("delete", board, thread, number):
        posts = queries.posts(get_store(), board, thread, [number])
        if posts and posts[0].get("deleted"):
            raise ModerationError(
                gettext("post %(board)s/%(thread)s/%(number)d is deleted already")
                % {"board": board, "thread": thread, "number": number}
            )
        if posts:
            # Where the moderation site's search index keeps the post (board/readmodel/moderation.py).
            payload |= {"posted": posts[0]["time"], "posted_event": posts[0]["event"]}
        return settle(new_event(EventType.POST_DELETED, board, thread, number, payload))


def delete_posts_of(board: str, thread: str, poster: str, reason: str = "", by: str = "operator") -> list[Event]:
    """Delete every post of one daily ID in a thread: one action a post, each said done or not when one fails.

    A post another moderator deleted meanwhile, or is deleting, is left to them.
    """
    found = existing_thread(board, thread)
    posts = queries.posts(get_store(), board, thread, list(range(1, found.count + 1)))
    mine = [p["number"] for p in posts if p.get("id") == poster and not p.get("deleted")]
    if not mine:
        raise ModerationError(
            gettext("no post of ID:%(poster)s left in %(board)s/%(thread)s")
            % {"poster": poster, "board": board, "thread": thread}
        )
    done: list[Event] = []
    for at, number in enumerate(mine):
        try:
            done.append(delete_post(board, thread, number, reason, by))
        except ModerationError:
            continue
        except NotApplied as exc:
            done.append(exc.event)
            _stopped(board, thread, poster, done, mine[at + 1 :], exc)
        except (StoreError, LogError) as exc:
            _stopped(board, thread, poster, done, mine[at:], exc)
    if not done:
        raise ModerationError(
            gettext("no post of ID:%(poster)s left in %(board)s/%(thread)s (another moderator deleted them)")
            % {"poster": poster, "board": board, "thread": thread}
        )
    return done


def _stopped(board: str, thread: str, poster: str, done: list[Event], left: list[int], exc: Exception) -> None:
    """Raise what a deletion of an ID's posts that stopped partway did, and what it did not."""
    if not done or not left:
        raise exc  # all or nothing committed: the failure's own words are true
    numbers = ", ".join(str(event.number) for event in done)
    raise ModerationError(
        gettext(
            "posts %(done)s of ID:%(poster)s in %(board)s/%(thread)s are deleted (committed to the log); "
            "posts %(left)s are not, the store or the log failed (%(error)s): delete those again"
        )
        % {
            "done": numbers,
            "poster": poster,
            "board": board,
            "thread": thread,
            "left": ", ".join(map(str, left)),
            "error": exc,
        }
    ) from exc


def ban_poster(board: str, thread: str, number: int, reason: str = "", by: str = "operator") -> Event:
    """Ban the author of a post for the rest of its JST day on this board.

    A ban names the daily ID, the only handle on a poster this board keeps: the
    address itself is never stored, so a ban ends with the day the ID belongs to.
    """
    post = _post(board, thread, number)
    if post.get("deleted") and "id" not in post:
        raise ModerationError(
            gettext("no post %(board)s/%(thread)s/%(number)d to take an ID from")
            % {"board": board, "thread": thread, "number": number}
        )
    if not post.get("id"):
        raise ModerationError(
            gettext("post %(board)s/%(thread)s/%(number)d has no ID (the board does not force IDs)")
            % {"board": board, "thread": thread, "number": number}
        )
    day = jst_day(post["time"]).isoformat()
    payload = {"poster": post["id"], "day": day, **who(by, reason)}
    with only_once("ban", board, post["id"], day):  # the ID's ban, from whichever of its posts
        if queries.is_banned(get_store(), board, day, post["id"]):
            raise ModerationError(
                gettext("ID:%(poster)s is banned on /%(board)s/ for %(day)s already")
                % {"poster": post["id"], "board": board, "day": day}
            )
        return settle(new_event(EventType.POSTER_BANNED, board, thread, number, payload))


def lift_ban(board: str, poster: str, day: str, reason: str = "", by: str = "operator") -> Event:
    payload = {"poster": poster, "day": day, **who(by, reason)}
    with only_once("lift", board, poster, day):
        if not queries.is_banned(get_store(), board, day, poster):
            raise ModerationError(
                gettext("ID:%(poster)s is not banned on /%(board)s/ for %(day)s")
                % {"poster": poster, "board": board, "day": day}
            )
        return settle(new_event(EventType.BAN_LIFTED, board, payload=payload))


def archive_thread(board: str, thread: str, reason: str = "", by: str = "operator") -> Event:
    """Send a thread to the archive (過去ログ) by hand: read-only from then on."""
    with only_once("archive", board, thread):
        if existing_thread(board, thread).archived:
            raise ModerationError(
                gettext("%(board)s/%(thread)s is in the archive already") % {"board": board, "thread": thread}
            )
        return settle(new_event(EventType.THREAD_ARCHIVED, board, thread, payload=who(by, reason)))


def restore_thread(board: str, thread: str, reason: str = "", by: str = "operator") -> Event:
    """Bring a thread back from the archive.

    Numbering needs a claim of the thread in the log (board/posting/numbers.py),
    and the rollup of its archival removed them all: so the restore itself is
    committed as the claim of its highest number, whose own claim is gone. If
    the claims are still there (not rolled up yet), it is an ordinary event.
    """
    with only_once("restore", board, thread):
        found = existing_thread(board, thread)
        if not found.archived:
            raise ModerationError(
                gettext("%(board)s/%(thread)s is not in the archive") % {"board": board, "thread": thread}
            )
        event = new_event(EventType.THREAD_RESTORED, board, thread, found.count, who(by, reason))
        try:
            get_log().create(post_key(board, thread, found.count), encode(event))
        except AlreadyExists:
            return settle(new_event(EventType.THREAD_RESTORED, board, thread, payload=who(by, reason)))
        fan_out(event)
        return applied(event)


def stop_thread(board: str, thread: str, reason: str = "", by: str = "operator") -> Event:
    """スレスト: the thread stays live and readable; posts are refused."""
    with only_once("stop", board, thread):
        if existing_thread(board, thread).stopped:
            raise ModerationError(
                gettext("%(board)s/%(thread)s is stopped already") % {"board": board, "thread": thread}
            )
        return settle(new_event(EventType.THREAD_STOPPED, board, thread, payload=who(by, reason)))


def resume_thread(board: str, thread: str, reason: str = "", by: str = "operator") -> Event:
    with only_once("resume", board, thread):
        if not existing_thread(board, thread).stopped:
            raise ModerationError(gettext("%(board)s/%(thread)s is not stopped") % {"board": board, "thread": thread})
        return settle(new_event(EventType.THREAD_RESUMED, board, thread, payload=who(by, reason)))
