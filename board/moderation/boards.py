"""Boards: created once, their settings changed one by one, closed and reopened, all as events.

A change names only the settings it changes (BoardSettingsChanged): the
others keep the values they had. BoardCreated is for a board that does not
exist yet; in old logs it also appears for boards that did, where it still
means what it meant then (every setting reset), so a restore stays exact.
"""

from __future__ import annotations

from typing import Any

from board.boards import NAME_RE, name_problem, problems, with_defaults
from board.events import Event, EventType, new_event
from board.moderation.actions import ModerationError, who
from board.posting.commit import commit
from board.readmodel import queries
from board.store import get_store


def save_board(name: str, settings: dict[str, Any], by: str = "operator", reason: str = "") -> Event | None:
    """Create the board with these settings, or change just these settings; None if nothing changes.

    A new board's name must not be one of the site's paths; a board an older
    log already has keeps its name, and its settings can still be changed.
    """
    current = queries.board(get_store(), name)
    problem = name_problem(name)
    if problem and (current is None or not NAME_RE.match(name)):
        raise ModerationError(problem)
    try:
        with_defaults(settings)
    except ValueError as exc:
        raise ModerationError(str(exc)) from exc
    wrong = problems(settings)
    if wrong:
        raise ModerationError("; ".join(wrong))
    if current is None:
        if not settings.get("title"):
            raise ModerationError(f"board /{name}/ does not exist yet: give it a title to create it")
        kind, payload = EventType.BOARD_CREATED, dict(settings)
    else:
        payload = {k: v for k, v in settings.items() if current.get(k) != v}
        if not payload:
            return None
        kind = EventType.BOARD_SETTINGS_CHANGED
    return commit(new_event(kind, name, payload={**payload, **who(by, reason)}))


def close_board(name: str, by: str = "operator", reason: str = "") -> Event:
    """Make a board read-only: its pages and dats stay, posts are refused."""
    return _set_closed(name, True, by, reason)


def reopen_board(name: str, by: str = "operator", reason: str = "") -> Event:
    return _set_closed(name, False, by, reason)


def _set_closed(name: str, closed: bool, by: str, reason: str) -> Event:
    """Close or reopen; refused saying why when the board is so already (nothing would be committed)."""
    current = queries.board(get_store(), name)
    if current is None:
        raise ModerationError(f"no board /{name}/")
    if bool(current.get("closed")) == closed:
        raise ModerationError(f"/{name}/ is {'closed' if closed else 'open'} already")
    event = save_board(name, {"closed": closed}, by, reason)
    assert event is not None  # the setting differs from the stored one
    return event
