"""manage.py seeddemo: a demo board with a welcome thread, for `make run` on a new machine."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, no_translations

from board.management.moderation import applied
from board.posting.commit import submit
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store

WELCOME = (
    "うたかたへようこそ。\n"
    "名前欄に「名前#キー」と書くとトリップが付きます。\n"
    "メール欄に sage と書くとスレッドを上げません。\n"
    ">>1 のようなアンカーは投稿へのリンクになります。"
)
RULES = "・ここは何でも話せる雑談板です。\n・荒らしには反応せず、削除依頼を出してください。"


class Command(BaseCommand):
    help = "Create the demo board /demo/ with a welcome thread, unless it exists."

    def add_arguments(self, parser):
        parser.add_argument("--board", default="demo")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, board, **options):
        call_command(
            "createboard",
            board,
            "うたかた 雑談",
            "--if-missing",
            "--set",
            "cooldown=3",
            "--set",
            f"rules={RULES}",
            stdout=self.stdout,
        )
        if queries.threads(get_store(), board):
            return
        posted = submit(board, None, Submission(subject="はじめてのスレッド", body=WELCOME), "127.0.0.1")
        applied(posted.event)
        self.stdout.write(self.style.SUCCESS(f"demo thread /{board}/{posted.thread} committed"))
