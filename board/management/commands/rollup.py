"""manage.py rollup [--hour YYYY-MM-DDTHH]: fold closed hours of incoming/ into hourly segments."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.lifecycle.keys import parse_hour
from board.lifecycle.progress import Progress
from board.lifecycle.rollup import NotClosed, rollup
from board.log import LogError, get_log
from board.store import StoreError, get_store


class Command(BaseCommand):
    help = (
        "Roll up every closed hour of the incoming tail into hourly/ segments (sorted, gzip JSONL, "
        "with a manifest), apply them to the store, then remove the per-event objects (each live thread's "
        "highest claim stays, marked as rolled up, for numbering). Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hour", type=_hour, help="only this UTC hour, e.g. 2026-12-01T08 (it must be closed)")

    def handle(self, *args, hour, **options):
        try:
            report = rollup(get_log(), get_store(), hour=hour, progress=Progress("rollup", say=self.stdout.write))
        except NotClosed as exc:
            raise CommandError(str(exc)) from exc
        except (LogError, StoreError) as exc:
            raise CommandError(f"rollup stopped: {exc}") from exc
        for result in report.hours:
            write = self.stderr.write if result.error else self.stdout.write
            write(result.line())
        for key, problem in report.skipped:
            self.stderr.write(f"skipped {key}: {problem} (left in place; see verifylog)")
        for number in report.voided:
            self.stdout.write(f"voided {number}: nobody wrote it, and later numbers were written")
        for (board, thread), why in report.held.items():
            self.stderr.write(f"{board}/{thread}: its claims stay in incoming/ for a later run ({why})")
        if not report.hours:
            self.stdout.write("nothing to roll up")
        if report.open_events:
            self.stdout.write(f"{report.open_events} event(s) of hours not closed yet left for a later run")
        self.stdout.write(report.summary())
        if report.failed:
            raise CommandError(f"{len(report.failed)} hour(s) failed; their incoming objects are untouched")
        self.stdout.write(self.style.SUCCESS("rollup done"))


def _hour(text: str):
    from argparse import ArgumentTypeError

    try:
        return parse_hour(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None
