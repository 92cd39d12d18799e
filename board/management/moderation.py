"""What the moderation commands share: run an action, turn its failures into CommandError, apply it."""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import CommandError

from board.events import Event
from board.log import LogError
from board.moderation.actions import ModerationError
from board.readmodel.projection import apply
from board.store import get_store


def moderate(action: Callable[..., Event], *args: object) -> Event:
    """Commit the action's event and apply it at once, so the operator sees the result whatever the workers do."""
    try:
        event = action(*args)
    except ModerationError as exc:
        raise CommandError(str(exc)) from exc
    except LogError as exc:
        raise CommandError(f"could not commit to the log: {exc}") from exc
    apply(get_store(), event)
    return event
