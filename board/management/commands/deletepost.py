"""manage.py deletepost BOARD THREAD NUMBER...: あぼーん, as a committed event."""

from __future__ import annotations

from django.core.management.base import BaseCommand, no_translations

from board.management.moderation import moderate_each, refused
from board.moderation.actions import delete_post, in_thread


class Command(BaseCommand):
    help = "Delete posts (あぼーん). The deletion is an event: it survives rehydrate and compaction."

    def add_arguments(self, parser):
        parser.add_argument("board")
        parser.add_argument("thread", help="the thread key, e.g. 1796111994")
        parser.add_argument("numbers", nargs="+", type=int, metavar="NUMBER")
        parser.add_argument("--reason", default="", help="kept in the log for other moderators")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, board, thread, numbers, reason, **options):
        numbers = list(dict.fromkeys(numbers))  # a number given twice is deleted once
        with refused():  # every number before the first commit: one mistyped among them deletes none
            for number in numbers:
                in_thread(board, thread, number)
        targets = [(board, thread, number, reason) for number in numbers]
        moderate_each(self, delete_post, targets, "deleted {0}/{1}/{2} ({event.id})")
