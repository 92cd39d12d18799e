"""manage.py archivethread BOARD THREAD: move a thread to the archive (過去ログ倉庫) by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand, no_translations

from board.management.moderation import moderate
from board.moderation.actions import archive_thread


class Command(BaseCommand):
    help = "Archive a thread: it becomes read-only and leaves the board's list."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, board, thread, **options):
        event = moderate(archive_thread, board, thread)
        self.stdout.write(self.style.SUCCESS(f"archived {board}/{thread} ({event.id})"))
