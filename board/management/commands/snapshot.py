"""manage.py snapshot: fold LATEST and the new hourly segments into the next snapshot."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from board.lifecycle.errors import LifecycleError
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.progress import Progress
from board.log import LogError, get_log


class Command(BaseCommand):
    help = (
        "Make the next snapshot (the previous one plus the hourly segments it lacks, compacted: deleted posts' "
        "text removed), verify it, move snapshots/LATEST, prune snapshots past the retention, and bundle the "
        "days LATEST holds into daily/ objects (the ones that tier to Glacier)."
    )

    def handle(self, *args, **options):
        try:
            snapshot, bundles = snapshot_and_bundle(get_log(), progress=Progress("snapshot", say=self.stdout.write))
        except (LifecycleError, LogError) as exc:
            raise CommandError(f"snapshot failed, LATEST was not moved: {exc}") from exc
        for line in snapshot.lines() + bundles.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("snapshot done"))
