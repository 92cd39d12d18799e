"""What the moderation commands share: run an action, turn its failures into CommandError, apply it.

A command exits 1 when nothing was done, and COMMITTED_NOT_APPLIED when its
event is committed to the log but the store could not apply it yet: the
workers will, and a deploy script must not run the command again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from board.events import Event
from board.log import LogError
from board.moderation import actions
from board.moderation.actions import ModerationError, NotApplied
from board.store import StoreError

COMMITTED_NOT_APPLIED = 3


@contextmanager
def refused() -> Iterator[None]:
    """Turn a refused or failed action into CommandError."""
    try:
        yield
    except ModerationError as exc:
        raise CommandError(str(exc)) from exc
    except NotApplied as exc:  # before StoreError: committed, so it must not read as "nothing was committed"
        raise CommandError(str(exc), returncode=COMMITTED_NOT_APPLIED) from exc
    except LogError as exc:
        raise CommandError(f"could not commit to the log: {exc}") from exc
    except StoreError as exc:  # an action reads the store before it commits
        raise CommandError(f"could not read the store, nothing was committed: {exc}") from exc


def unless_it_exists(make: Callable[[], Event | None], exists: Callable[[], bool]) -> Event | None:
    """make(), or None if what it makes exists: before, or made meanwhile by another process.

    For ``--from-env`` and ``--if-missing``: deploy scripts of several containers
    run the same command at once, and each must end as "exists", not refused as
    under way (the claim, waited out) or as existing already (made in between).
    """
    if exists():
        return None
    try:
        return make()
    except actions.UnderWay:
        deadline = time.monotonic() + actions.CLAIM_SECONDS
        while not exists():
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        return None
    except ModerationError:
        if exists():
            return None
        raise


def moderate(action: Callable[..., Event], *args: object) -> Event:
    """Run a moderation action (it commits its event and applies it at once) as a command."""
    with refused():
        return action(*args)


def moderate_each(command: BaseCommand, action: Callable[..., Event], targets: list[tuple], done: str) -> None:
    """moderate(action, *target) for each target, reporting each as ``done.format(*target, event=...)``.

    A target whose event is committed but not applied does not stop the
    others: each is committed, its message printed, and the command exits
    COMMITTED_NOT_APPLIED at the end. Any other failure stops it there.
    """
    pending = 0
    for target in targets:
        try:
            event = moderate(action, *target)
        except CommandError as exc:
            if exc.returncode != COMMITTED_NOT_APPLIED:
                raise
            command.stderr.write(str(exc))
            pending += 1
            continue
        command.stdout.write(command.style.SUCCESS(done.format(*target, event=event)))
    if pending:
        raise CommandError(
            f"{pending} of {len(targets)} committed to the log but not applied yet (above): "
            "the workers apply them once the store answers; do not run this again",
            returncode=COMMITTED_NOT_APPLIED,
        )


def applied(event: Event) -> None:
    """Apply a committed event at once; when the store fails, say that the event is committed all the same."""
    with refused():
        actions.applied(event)
