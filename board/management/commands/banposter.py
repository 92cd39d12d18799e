"""manage.py banposter BOARD THREAD NUMBER: ban the post's author (its daily ID) for the day."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.log import LogError
from board.moderation.actions import ModerationError, ban_poster
from board.readmodel.projection import apply
from board.store import get_store


class Command(BaseCommand):
    help = "Ban the author of a post on its board until the end of its JST day (the life of its daily ID)."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread")
        parser.add_argument("number", type=int)
        parser.add_argument("--reason", default="", help="kept in the log for other moderators")

    def handle(self, *args, board, thread, number, reason, **options):
        try:
            event = ban_poster(board, thread, number, reason)
        except ModerationError as exc:
            raise CommandError(str(exc)) from exc
        except LogError as exc:
            raise CommandError(f"could not commit to the log: {exc}") from exc
        apply(get_store(), event)
        poster, day = event.payload["poster"], event.payload["day"]
        self.stdout.write(self.style.SUCCESS(f"banned ID:{poster} on /{board}/ for {day} ({event.id})"))
