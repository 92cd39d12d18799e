"""manage.py purge: remove a post's text, or an account's hashes, from every object of the log."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, no_translations

from board.events import Event
from board.lifecycle import purgelist
from board.lifecycle.errors import LifecycleError
from board.lifecycle.plan import restore_instructions
from board.lifecycle.purge import Busy, SweepReport, sweep, sweep_exclusive
from board.log import LogError, get_log
from board.management.moderation import moderate_each
from board.moderation import purge
from board.moderation.actions import ModerationError
from board.store import StoreError


class Command(BaseCommand):
    help = (
        "Purge text that must not be kept: 'post BOARD THREAD NUMBER...' deletes the posts (あぼーん, numbering "
        "kept) and rewrites their text out of every segment, bundle and snapshot; 'account USERNAME' deactivates "
        "a moderator and rewrites its password and cap hashes out likewise. 'sweep' runs the rewrite for the open "
        "purges (what the hourly task does), 'status' lists them. --dry-run lists what would be rewritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("what", choices=("post", "account", "sweep", "status"))
        parser.add_argument("target", nargs="*", help="post: BOARD THREAD NUMBER...; account: USERNAME")
        parser.add_argument("--reason", default="", help="required for post and account; kept in the audit")
        parser.add_argument("--by", default="operator", help="who asks (the audit's name for them)")
        parser.add_argument("--dry-run", action="store_true", help="list the objects that would be rewritten")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, what, target, reason, by, dry_run, **options):
        if what in ("status", "sweep") and target:
            raise CommandError(f"purge {what} takes no arguments, not {' '.join(target)!r}")
        if not by.strip():
            raise CommandError("--by names who asks for the purge in the audit: it cannot be empty")
        try:
            if what == "status":
                return self.status()
            if what == "sweep":
                return self.sweep(dry_run)
            if not reason.strip() and not dry_run:
                raise CommandError("--reason is required: it goes to the audit (do not quote the purged text)")
            entries = self.targets(what, target)
            if dry_run:
                return self.report(sweep(get_log(), dry_run=True, extra=entries))
            targets = [(entry, reason, by) for entry in entries]
            moderate_each(self, self.request, targets, "purge of {0.label} recorded, {event.type} {event.id}")
            return self.sweep(False)
        except ModerationError as exc:
            raise CommandError(str(exc)) from exc
        except (LifecycleError, LogError, StoreError) as exc:
            raise CommandError(f"purge failed: {exc}") from exc

    def targets(self, what: str, target: list[str]) -> list[purgelist.Entry]:
        if what == "account":
            if len(target) != 1:
                raise CommandError("purge account USERNAME")
            return [purge.planned_account(target[0])]
        # ASCII digits: isdigit() alone takes ² and ٣, which int() refuses or reads as 3.
        if len(target) < 3 or not all(n.isascii() and n.isdigit() for n in target[2:]):
            raise CommandError("purge post BOARD THREAD NUMBER...")
        board, thread = target[:2]
        return [purge.planned_post(board, thread, int(n)) for n in target[2:]]

    def request(self, entry: purgelist.Entry, reason: str, by: str) -> Event:
        """Commit and apply the purge of entry (its sweep is queued once committed, whatever the store does)."""
        if entry.is_post:
            b = entry.body
            return purge.purge_post(b["board"], b["thread"], b["number"], reason, by)
        return purge.purge_account(entry.body["username"], reason, by)

    def sweep(self, dry_run: bool) -> None:
        try:
            report = sweep_exclusive(get_log(), dry_run=dry_run)
        except Busy as exc:
            self.stdout.write(f"not swept now: {exc}")
            return
        self.report(report)

    def report(self, report: SweepReport) -> None:
        for line in report.lines():
            self.stdout.write(line)
        if report.pending:
            self.stdout.write(restore_instructions(get_log(), report.pending))
        if report.errors:
            raise CommandError(f"{len(report.errors)} object(s) could not be purged; the next sweep tries again")

    def status(self) -> None:
        found = purgelist.entries(get_log(), open_only=False)
        if not found:
            self.stdout.write("no purges")
        for entry in found:
            pending = f", pending: {' '.join(entry.pending)}" if entry.pending else ""
            state = "done" if entry.done else f"open{pending}"
            self.stdout.write(f"{entry.label}: recorded {entry.body['recorded']}, {state}")
