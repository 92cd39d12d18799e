"""The scheduled jobs as plain functions: what the Celery tasks and the commands both run."""

from __future__ import annotations

from datetime import UTC, datetime

from board.lifecycle.bundle import BundleReport, bundle_days
from board.lifecycle.progress import Progress
from board.lifecycle.snapshot import SnapshotReport, latest, make_snapshot
from board.log import BaseLog


def snapshot_and_bundle(
    log: BaseLog, now: datetime | None = None, progress: Progress | None = None
) -> tuple[SnapshotReport, BundleReport]:
    """Make the next snapshot (if there is anything new), then bundle the days LATEST now holds.

    Bundling runs even when no snapshot was due, so a bundle interrupted by a
    crash is finished on the next run.
    """
    now = now or datetime.now(UTC)
    report = make_snapshot(log, now, progress=progress)
    return report, bundle_days(log, latest(log), progress=progress)
