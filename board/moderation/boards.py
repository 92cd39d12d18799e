"""Boards: created once, their settings changed one by one, closed and reopened, all as events.

A change names only the settings it changes (BoardSettingsChanged): the
others keep the values they had. BoardCreated is for a board that does not
exist yet; in old logs it also appears for boards that did, where it still
means what it meant then (every setting reset), so a restore stays exact.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from board.boards import NAME_RE, name_problem, problems, with_defaults
from board.events import Event, EventType, new_event
from board.moderation.actions import ModerationError, only_once, settle, who
from board.readmodel import queries
from board.store import get_store

# What every change of a board claims, with its name: checked, committed and applied one at a time, so
# that two creations of one board at once are one board (not two, the second's settings replacing the
# first's), and a double click commits once.
CLAIM = "change of board"


def save_board(
    name: str, settings: dict[str, Any], by: str = "operator", reason: str = "", new: bool = False
) -> Event | None:
    """Create the board with these settings, or change just these settings; None if nothing changes.

    A new board's name must not be one of the site's paths; a board an older
    log already has keeps its name, and its settings can still be changed.
    ``new``: only create it (a form for a new board, ``--if-missing``); one
    that exists is refused. The event is committed and applied under the
    board's claim, where that is checked.
    """
    with only_once(CLAIM, name):
        return _save(name, settings, by, reason, new)


def _save(name: str, settings: dict[str, Any], by: str, reason: str, new: bool = False) -> Event | None:
    current = queries.board(get_store(), name)
    if new and current is not None:
        # A new board's form leaves unticked boxes out: as a change it would reopen the board, switch checks off.
        raise ModerationError(gettext("board /%(name)s/ exists already: change it from its own page") % {"name": name})
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
            raise ModerationError(
                gettext("board /%(name)s/ does not exist yet: give it a title to create it") % {"name": name}
            )
        kind, payload = EventType.BOARD_CREATED, dict(settings)
    else:
        payload = {k: v for k, v in settings.items() if current.get(k) != v}
        if not payload:
            return None
        kind = EventType.BOARD_SETTINGS_CHANGED
    return settle(new_event(kind, name, payload={**payload, **who(by, reason)}))


def close_board(name: str, by: str = "operator", reason: str = "") -> Event:
    """Make a board read-only: its pages and dats stay, posts are refused."""
    return _set_closed(name, True, by, reason)


def reopen_board(name: str, by: str = "operator", reason: str = "") -> Event:
    return _set_closed(name, False, by, reason)


def _set_closed(name: str, closed: bool, by: str, reason: str) -> Event:
    """Close or reopen; refused saying why when the board is so already (nothing would be committed)."""
    with only_once(CLAIM, name):
        current = queries.board(get_store(), name)
        if current is None:
            raise ModerationError(gettext("no board /%(name)s/") % {"name": name})
        if bool(current.get("closed")) == closed:
            already = gettext("/%(name)s/ is closed already") if closed else gettext("/%(name)s/ is open already")
            raise ModerationError(already % {"name": name})
        event = _save(name, {"closed": closed}, by, reason)
        assert event is not None  # the setting differs from the stored one
        return event
