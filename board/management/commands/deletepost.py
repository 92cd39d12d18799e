"""manage.py deletepost BOARD THREAD NUMBER...: あぼーん, as a committed event."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.log import LogError
from board.moderation.actions import ModerationError, delete_post
from board.readmodel.projection import apply
from board.store import get_store


class Command(BaseCommand):
    help = "Delete posts (あぼーん). The deletion is an event: it survives rehydrate and compaction."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread", help="the thread key, e.g. 1796111994")
        parser.add_argument("numbers", nargs="+", type=int, metavar="NUMBER")
        parser.add_argument("--reason", default="", help="kept in the log for other moderators")

    def handle(self, *args, board, thread, numbers, reason, **options):
        for number in numbers:
            try:
                event = delete_post(board, thread, number, reason)
            except ModerationError as exc:
                raise CommandError(str(exc)) from exc
            except LogError as exc:
                raise CommandError(f"could not commit to the log: {exc}") from exc
            apply(get_store(), event)
            self.stdout.write(self.style.SUCCESS(f"deleted {board}/{thread}/{number} ({event.id})"))
