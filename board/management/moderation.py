"""What the moderation commands share: run an action, turn its failures into CommandError, apply it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from board.events import Event
from board.log import LogError
from board.moderation.actions import ModerationError
from board.readmodel.projection import apply
from board.store import StoreError, get_store


@contextmanager
def refused() -> Iterator[None]:
    """Turn a refused or failed action into CommandError."""
    try:
        yield
    except ModerationError as exc:
        raise CommandError(str(exc)) from exc
    except LogError as exc:
        raise CommandError(f"could not commit to the log: {exc}") from exc
    except StoreError as exc:  # an action reads the store before it commits
        raise CommandError(f"could not read the store, nothing was committed: {exc}") from exc


def moderate(action: Callable[..., Event], *args: object) -> Event:
    """Commit the action's event and apply it at once, so the operator sees the result whatever the workers do."""
    with refused():
        event = action(*args)
    applied(event)
    return event


def applied(event: Event) -> None:
    """Apply a committed event at once; when the store fails, say that the event is committed all the same.

    An operator who saw only the store's error would run the command again and commit it twice.
    """
    try:
        apply(get_store(), event)
    except StoreError as exc:
        raise CommandError(
            f"{event.type} {event.id} is committed to the log, but the store could not apply it now ({exc}); "
            "the workers apply it once the store answers: do not run the command again"
        ) from exc
