"""manage.py banposter BOARD THREAD NUMBER: ban the post's author (its daily ID) for the day."""

from __future__ import annotations

from django.core.management.base import BaseCommand, no_translations

from board.management.moderation import moderate
from board.moderation.actions import ban_poster


class Command(BaseCommand):
    help = "Ban the author of a post on its board until the end of its JST day (the life of its daily ID)."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread")
        parser.add_argument("number", type=int)
        parser.add_argument("--reason", default="", help="kept in the log for other moderators")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, board, thread, number, reason, **options):
        event = moderate(ban_poster, board, thread, number, reason)
        poster, day = event.payload["poster"], event.payload["day"]
        self.stdout.write(self.style.SUCCESS(f"banned ID:{poster} on /{board}/ for {day} ({event.id})"))
