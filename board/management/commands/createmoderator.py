"""manage.py createmoderator: an account of the moderation site, as an event in the log.

For deploy scripts, ``--from-env`` creates the first superuser from
UTAKATA_ADMIN_USERNAME and UTAKATA_ADMIN_PASSWORD, and does nothing if that
account exists: run it on every start.
"""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError, no_translations

from board.management.moderation import refused, unless_it_exists
from board.moderation import accounts


class Command(BaseCommand):
    help = "Create a moderator account (ModeratorCreated in the log), or the first superuser from the environment."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", help="1-32 ASCII letters and digits")
        parser.add_argument("--superuser", action="store_true", help="manages boards and moderators, every board")
        parser.add_argument("--boards", default="", help="comma-separated boards the moderator acts on")
        parser.add_argument(
            "--from-env",
            action="store_true",
            help="the superuser UTAKATA_ADMIN_USERNAME with UTAKATA_ADMIN_PASSWORD; nothing if it exists",
        )

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, username, superuser, boards, from_env, **options):
        if from_env:
            if username or superuser or boards:
                raise CommandError("--from-env takes its superuser from UTAKATA_ADMIN_USERNAME: give nothing else")
            username = os.environ.get("UTAKATA_ADMIN_USERNAME", "")
            password = os.environ.get("UTAKATA_ADMIN_PASSWORD", "")
            if not username or not password:
                raise CommandError("--from-env needs UTAKATA_ADMIN_USERNAME and UTAKATA_ADMIN_PASSWORD")
            superuser = True
        else:
            if not username:
                raise CommandError("give a username (or --from-env)")
            if problem := accounts.username_problem(username):  # before asking for a password it would refuse
                raise CommandError(problem)
            try:
                password = getpass.getpass("password: ")
            except EOFError:  # no terminal, and nothing on stdin: a deploy script
                raise CommandError(
                    "no password given: run it in a terminal, or create the first superuser with --from-env"
                ) from None

        def create():
            return accounts.create(
                username, password, superuser=superuser, boards=[b for b in boards.split(",") if b], by="operator"
            )

        with refused():
            event = unless_it_exists(create, lambda: accounts.get(username) is not None) if from_env else create()
        if event is None:
            self.stdout.write(f"account {username} exists; left as it is")
            return
        kind = "superuser" if superuser else "moderator"
        self.stdout.write(self.style.SUCCESS(f"{kind} {username} committed as {event.id}"))
