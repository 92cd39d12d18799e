"""manage.py archivethread BOARD THREAD: move a thread to the archive (過去ログ倉庫) by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.log import LogError
from board.moderation.actions import ModerationError, archive_thread
from board.readmodel.projection import apply
from board.store import get_store


class Command(BaseCommand):
    help = "Archive a thread: it becomes read-only and leaves the board's list."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread")

    def handle(self, *args, board, thread, **options):
        try:
            event = archive_thread(board, thread)
        except ModerationError as exc:
            raise CommandError(str(exc)) from exc
        except LogError as exc:
            raise CommandError(f"could not commit to the log: {exc}") from exc
        apply(get_store(), event)
        self.stdout.write(self.style.SUCCESS(f"archived {board}/{thread} ({event.id})"))
