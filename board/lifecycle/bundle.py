"""Daily bundles: a day of hourly segments as one object, the unit that tiers to Glacier.

S3 does not transition objects under 128 KB and charges every archived object
about 40 KB of overhead, so per-hour (let alone per-event) objects are never
archived: once LATEST holds a whole day's hourly segments, they are merged
into ``daily/YYYY/MM/DD.jsonl.gz``, whose manifest lists them as ``sources``
and records the snapshot that holds them (``covered_by``); after the bundle
is verified the hourly objects are deleted (data first, then manifest). An
hourly part that comes later (a late commit) goes into part ``DD.<n>``.

A restore to the present never reads daily/: everything in it is held by
LATEST. Only a point-in-time restore from an older snapshot may need bundles
(those covered by a later snapshot than the one it starts from).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from board.lifecycle import keys as k
from board.lifecycle.errors import LifecycleError
from board.lifecycle.manifests import Manifest, read_manifest
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.rollup import grace
from board.lifecycle.segments import SegmentWriter, events, merged, upload
from board.log import AlreadyExists, BaseLog

logger = logging.getLogger(__name__)

ATTEMPTS = 10


@dataclass
class BundleReport:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"bundled {key}" for key in self.written]
        if self.removed:
            out.append(f"removed {len(self.removed)} bundled hourly object(s)")
        out.append(f"bundling: {len(self.written)} daily part(s) written in {self.seconds:.1f}s")
        return out


def bundle_days(log: BaseLog, head: Manifest | None, progress: Progress | None = None) -> BundleReport:
    """Bundle every day whose hourly segments head (LATEST) holds and that had ended when head was built."""
    started = time.monotonic()
    progress = progress or quiet("bundling")
    report = BundleReport()
    if head is None or head.created is None:
        return report
    held = set(head.sources)
    complete_before = datetime.fromisoformat(head.created) - grace()
    by_day: dict[date, dict[str, list[str]]] = defaultdict(lambda: {"data": [], "manifest": []})
    for info in log.list(k.HOURLY):
        parsed = k.parse_hourly(info.key)
        if parsed is not None:
            by_day[parsed[0].date()]["manifest" if k.is_manifest(info.key) else "data"].append(info.key)
    for day, found in sorted(by_day.items()):
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if end > complete_before:
            continue
        progress.phase(f"bundling {day}")
        manifests = [read_manifest(log, key) for key in found["manifest"]]
        parts = [m for m in manifests if m.ident in held and m.key in found["data"]]
        leftovers = [m for m in manifests if m.ident in held and m.key not in found["data"]]
        if parts:
            report.written += _bundle(log, day, parts, head)
        # Data first, then the manifest: an interrupted removal leaves a manifest
        # without data, which readers skip and the next run removes.
        # A purge's replaced data goes with its segment (the purge removes it too, unless it crashed first).
        replaced = [key for m in parts + leftovers for key in m.replaced or ()]
        doomed = [m.key for m in parts] + replaced + [k.manifest_key(m.key) for m in parts + leftovers]
        log.delete(doomed)
        report.removed += doomed
        progress.add("day(s) bundled")
    report.seconds = time.monotonic() - started
    return report


def _bundle(log: BaseLog, day: date, parts: list[Manifest], head: Manifest) -> list[str]:
    """Write the day's parts not yet in a bundle as the next daily part; return what was written."""
    for _ in range(ATTEMPTS):
        existing, used = _daily_parts(log, day)
        bundled = {source for m in existing for source in m.sources}
        todo = sorted((m for m in parts if m.ident not in bundled), key=lambda m: m.key)
        if not todo:
            return []
        # Past every part number in use, also data whose manifest a crash never wrote.
        part = max(used, default=-1) + 1
        key = k.daily_key(day, part)
        with SegmentWriter() as writer:
            writer.write_all(merged(events(log, m) for m in todo))
            manifest = Manifest(
                kind="daily",
                key=key,
                stats=writer.finish(),
                day=day.isoformat(),
                part=part,
                sources=tuple(m.ident for m in todo),
                covered_by=head.seq,
            )
            try:
                upload(log, writer, manifest, k.manifest_key(key))
            except AlreadyExists:
                logger.info("daily part %s was written by another bundler; looking again", key)
                continue
        return [key]
    raise LifecycleError(f"daily bundle of {day}: gave up after {ATTEMPTS} conflicting writers")


def _daily_parts(log: BaseLog, day: date) -> tuple[list[Manifest], set[int]]:
    """The day's bundles (manifests) and every part number in use."""
    manifests, used = [], set()
    for info in log.list(k.daily_prefix(day)):
        parsed = k.parse_daily(info.key)
        if parsed is None:
            continue
        used.add(parsed[1])
        if k.is_manifest(info.key):
            manifests.append(read_manifest(log, info.key))
    return manifests, used
