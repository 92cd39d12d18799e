"""What the moderation commands share: run an action, turn its failures into CommandError, apply it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from board.events import Event
from board.log import LogError
from board.moderation import actions
from board.moderation.actions import ModerationError, NotApplied
from board.store import StoreError


@contextmanager
def refused() -> Iterator[None]:
    """Turn a refused or failed action into CommandError."""
    try:
        yield
    except ModerationError as exc:
        raise CommandError(str(exc)) from exc
    except NotApplied as exc:  # before StoreError: committed, so it must not read as "nothing was committed"
        raise CommandError(str(exc)) from exc
    except LogError as exc:
        raise CommandError(f"could not commit to the log: {exc}") from exc
    except StoreError as exc:  # an action reads the store before it commits
        raise CommandError(f"could not read the store, nothing was committed: {exc}") from exc


def moderate(action: Callable[..., Event], *args: object) -> Event:
    """Run a moderation action (it commits its event and applies it at once) as a command."""
    with refused():
        return action(*args)


def applied(event: Event) -> None:
    """Apply a committed event at once; when the store fails, say that the event is committed all the same."""
    with refused():
        actions.applied(event)
