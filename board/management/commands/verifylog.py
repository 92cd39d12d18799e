"""manage.py verifylog [--repair]: compare the store with the log, report drift per board and thread."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.lifecycle.errors import LifecycleError
from board.lifecycle.health import record_verification
from board.lifecycle.progress import Progress
from board.lifecycle.verify import verify_store
from board.log import LogError, get_log
from board.store import StoreError, get_store


class Command(BaseCommand):
    help = (
        "Rebuild what the store should hold from the log (in a scratch file), compare it object by object "
        "with the store, and report the drift per board and thread. --repair fixes it. Exits 1 on drift "
        "that was not repaired."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="write the log's version of every drifting object")

    def handle(self, *args, repair, **options):
        store = get_store()
        try:
            progress = Progress("verifylog", say=self.stdout.write)
            report = verify_store(get_log(), store, repair=repair, progress=progress)
            # What it found is shown on the log-health page until the next verification.
            record_verification(store, report, repaired=repair)
        except (LifecycleError, LogError, StoreError) as exc:
            raise CommandError(f"verifylog failed: {exc}") from exc
        for line in report.lines():
            self.stdout.write(line)
        if not report.drift:
            self.stdout.write(self.style.SUCCESS("the store matches the log"))
        elif repair:
            self.stdout.write(self.style.SUCCESS(f"{len(report.drift)} drift(s) repaired"))
        else:
            raise CommandError(f"{len(report.drift)} drift(s) between the store and the log; run with --repair")
