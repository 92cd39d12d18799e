"""Snapshots: the all-time log, folded and compacted, so a restore need not replay every hour.

A snapshot is the previous snapshot merged with every hourly segment it does
not hold yet, as one id-sorted gzip JSONL object. Building one streams: the
inputs are merged with a heap holding one event per input, written to a
temporary file, and uploaded with ``create_from_file`` (multipart on S3), so
memory stays flat however long the log grows. The one thing kept in memory is
the set of deleted post numbers (see compaction below), which grows with
moderation, not with the log.

Sequence and claims: snapshot n+1 is built from snapshot n. Its data goes to
``snapshots/<n+1>-<sha>.jsonl.gz`` (content-addressed, so racing builders
never collide there), is read back and checked, and then
``snapshots/<n+1>.manifest.json`` is created with a conditional create: the
manifest is the claim, so there is exactly one snapshot n+1 and the chain is a
line. Only then does ``snapshots/LATEST`` move, and only forward. A crash
after the claim is finished by the next run (``advance``); a builder that lost
the claim removes its own data.

Compaction: a post that was deleted (PostDeleted) keeps its PostCreated in
the snapshot, with the text gone: name, mail, body and poster ID are emptied
and ``redacted`` is set. The event stays because the post's number, time and
bump (sage or not) still shape the thread (numbers stay gapless, the あぼーん
line appears, the board's order is unchanged); a thread's subject stays
because it is the thread's title. Duplicate events (a segment folded twice)
are dropped.

The manifest's ``sources`` lists every hourly segment present when the
snapshot was built, all of which it holds; a restore replays the hourly
segments not listed there (plan.py).

Before the claim, the new snapshot is replayed once more into a scratch store
and its objects uploaded as its image (images.py), which the manifest names:
a restore copies them rather than replaying the events. A snapshot whose image
could not be made is still claimed, without one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings

from board.events import Event, EventType
from board.lifecycle import images
from board.lifecycle import keys as k
from board.lifecycle.errors import LifecycleError, MissingObject
from board.lifecycle.manifests import Manifest, read_manifest
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.purgelist import redacted_post
from board.lifecycle.segments import SegmentWriter, events, merged, raw_lines, verify
from board.log import AlreadyExists, BaseLog, LogError, NotFound
from board.store import StoreError

logger = logging.getLogger(__name__)

DELETED_MARK = (b'"type":"PostDeleted"', b'"type":"PostPurged"')
DELETIONS = (EventType.POST_DELETED, EventType.POST_PURGED)
NUMBERED = (EventType.THREAD_CREATED, EventType.POST_CREATED)
UNNAMED_AGE = timedelta(hours=1)


@dataclass
class SnapshotReport:
    seq: int | None = None
    key: str = ""
    count: int = 0
    size: int = 0
    inputs: list[str] = field(default_factory=list)
    redacted: int = 0
    duplicates: int = 0
    pruned: list[str] = field(default_factory=list)
    image: str = ""
    seconds: float = 0.0
    outcome: str = "written"  # written | up to date | lost the race

    def lines(self) -> list[str]:
        if self.outcome != "written":
            return [f"snapshot: {self.outcome}" + (f" (LATEST is {self.seq})" if self.seq else "")]
        out = [
            f"snapshot {self.seq}: {self.key}, {self.count} events, {self.size} bytes, from {len(self.inputs)} "
            f"input(s), {self.redacted} deleted post(s) redacted, {self.duplicates} duplicate(s) dropped, "
            f"in {self.seconds:.1f}s"
        ]
        if self.image:
            out.append(self.image)
        out += [f"pruned {key}" for key in self.pruned]
        return out


# --- LATEST ----------------------------------------------------------------------


def latest(log: BaseLog) -> Manifest | None:
    """The snapshot LATEST names, or None on a log that has none yet."""
    try:
        pointer = json.loads(log.read(k.LATEST))
    except NotFound:
        return None
    except ValueError as exc:
        raise MissingObject(k.LATEST, f"not a snapshot pointer: {exc}") from exc
    return read_manifest(log, pointer["manifest"])


def point(log: BaseLog, manifest: Manifest) -> bool:
    """Move LATEST to manifest unless it already names the same or a later snapshot."""
    current = latest(log)
    assert manifest.seq is not None
    if current is not None and current.seq is not None and current.seq >= manifest.seq:
        return False
    pointer = {"seq": manifest.seq, "manifest": k.snapshot_manifest_key(manifest.seq), "key": manifest.key}
    log.replace(k.LATEST, (json.dumps(pointer, sort_keys=True) + "\n").encode())
    return True


def snapshot_manifests(log: BaseLog) -> list[Manifest]:
    """Every snapshot manifest in the log, oldest first."""
    found = []
    for info in log.list(k.SNAPSHOTS):
        if k.parse_snapshot_manifest(info.key) is not None:
            found.append(read_manifest(log, info.key))
    return found


def advance(log: BaseLog) -> Manifest | None:
    """LATEST, first moved past any claimed snapshot a crash left before the move."""
    head = latest(log)
    if head is None:
        claimed = snapshot_manifests(log)
        head = claimed[-1] if claimed else None
        if head is not None:
            verify(log, head)
            point(log, head)
    seq = head.seq if head is not None and head.seq is not None else 0
    while log.exists(k.snapshot_manifest_key(seq + 1)):
        head = read_manifest(log, k.snapshot_manifest_key(seq + 1))
        verify(log, head)
        point(log, head)
        seq += 1
    return head


# --- inputs ----------------------------------------------------------------------


def hourly_manifests(log: BaseLog, dataless: list[Manifest] | None = None) -> list[Manifest]:
    """Every complete hourly segment (data and manifest both present), in key order.

    A manifest whose data is gone is either a bundled segment whose removal
    was interrupted (harmless: a snapshot holds it) or a lost segment; such
    manifests are appended to ``dataless`` for the caller to judge.
    """
    data, manifests = set(), []
    for info in log.list(k.HOURLY):
        if k.parse_hourly(info.key) is None:
            continue
        if k.is_manifest(info.key):
            manifests.append(info.key)
        else:
            data.add(info.key)
    found = []
    for key in manifests:
        manifest = read_manifest(log, key)
        if manifest.key in data:
            found.append(manifest)
        elif dataless is not None:
            dataless.append(manifest)
    return found


def daily_manifests(log: BaseLog) -> list[Manifest]:
    return [read_manifest(log, info.key) for info in log.list(k.DAILY) if k.is_manifest(info.key)]


def deleted_posts(log: BaseLog, inputs: Iterable[Manifest]) -> set[tuple[str, str, int]]:
    """(board, thread, number) of every PostDeleted (or PostPurged) in the inputs.

    A cheap first pass: only inputs that hold deletions are scanned.
    """
    found = set()
    for manifest in inputs:
        if manifest.kind != "snapshot" and not any(manifest.stats.types.get(kind) for kind in DELETIONS):
            continue
        for event in raw_lines(log, manifest, DELETED_MARK):
            if event.type in DELETIONS and event.thread is not None and event.number is not None:
                found.add((event.board, event.thread, event.number))
    return found


def redact(event: Event) -> Event:
    """A deleted post's event without its text: what the snapshot keeps of it."""
    return redacted_post(event)


def compacted(stream: Iterable[Event], deleted: set[tuple[str, str, int]], counter: list[int]) -> Iterator[Event]:
    for event in stream:
        if (
            event.type in NUMBERED
            and not event.payload.get("redacted")
            and (event.board, event.thread, event.number) in deleted
        ):
            event = redact(event)
            counter[0] += 1
        yield event


def counted(stream: Iterable[Event], progress: Progress) -> Iterator[Event]:
    for event in stream:
        progress.add("event(s) written")
        yield event


# --- building --------------------------------------------------------------------


def make_snapshot(
    log: BaseLog, now: datetime | None = None, retention: timedelta | None = None, progress: Progress | None = None
) -> SnapshotReport:
    """Fold LATEST and the hourly segments it lacks into the next snapshot; move LATEST; prune."""
    started = time.monotonic()
    progress = progress or quiet("snapshot")
    progress.phase("looking at LATEST and hourly/")
    now = now or datetime.now(UTC)
    head = advance(log)
    dataless: list[Manifest] = []
    present = hourly_manifests(log, dataless)
    held = set(head.sources) if head is not None else set()
    lost = [m for m in dataless if m.ident not in held]
    if lost:
        raise MissingObject(lost[0].key, "its manifest is there but the data is not, and no snapshot holds it")
    new = [m for m in present if m.ident not in held]
    inputs: list[Manifest] = [head] if head is not None else daily_manifests(log)
    inputs += new
    report = SnapshotReport(seq=head.seq if head else None)
    if head is not None and not new:
        report.outcome = "up to date"
        report.pruned = prune(log, head, now, retention)
        return report
    if not inputs:
        report.outcome = "up to date (the log holds no segments yet)"
        return report

    seq = (head.seq or 0) + 1 if head is not None else 1
    progress.phase(f"finding deletions in {len(inputs)} input(s)")
    deleted = deleted_posts(log, inputs)
    redacted = [0]
    progress.phase(f"writing snapshot {seq} from {len(inputs)} input(s)")
    with SegmentWriter() as writer:
        writer.write_all(counted(compacted(merged(events(log, m) for m in inputs), deleted, redacted), progress))
        stats = writer.finish()
        data_key = k.snapshot_data_key(seq, stats.sha256)
        progress.phase(f"uploading {stats.size} bytes")
        log.create_from_file(data_key, writer.file)
    manifest = Manifest(
        kind="snapshot",
        key=data_key,
        stats=stats,
        seq=seq,
        prev=k.snapshot_manifest_key(head.seq) if head is not None and head.seq else None,
        created=now.isoformat(timespec="seconds"),
        sources=tuple(sorted(m.ident for m in present)),
        redacted=redacted[0],
        duplicates=sum(m.count for m in inputs) - stats.count,
    )
    progress.phase("reading it back")
    verify(log, manifest)
    progress.phase("making its image")
    image, report.image = _image(log, manifest, seq, progress)
    manifest = replace(manifest, image=image.as_dict() if image else None)
    try:
        log.create(k.snapshot_manifest_key(seq), manifest.to_bytes())
    except AlreadyExists:
        winner = read_manifest(log, k.snapshot_manifest_key(seq))
        kept = images.named_keys(winner)
        log.delete([key for key in images.named_keys(manifest) if key not in kept])
        logger.warning("snapshot %d was claimed by another builder (%s); ours is dropped", seq, winner.key)
        report.outcome, report.seq = "lost the race", seq
        return report
    point(log, manifest)
    report.seq, report.key, report.count, report.size = seq, data_key, stats.count, stats.size
    report.inputs = [m.key for m in inputs]
    report.redacted, report.duplicates = manifest.redacted or 0, manifest.duplicates or 0
    report.pruned = prune(log, manifest, now, retention)
    report.seconds = time.monotonic() - started
    return report


def _image(log: BaseLog, manifest: Manifest, seq: int, progress: Progress) -> tuple[images.Image | None, str]:
    """The snapshot's image and a line saying so; without one (the scratch disk full...) restores replay it."""
    try:
        image = images.build(log, manifest, seq, progress)
    except (LifecycleError, LogError, StoreError, OSError) as exc:
        logger.warning("snapshot %d has no image: %s", seq, exc)
        return None, f"no image ({exc}): a restore replays its events"
    return image, f"image {image.key}: {image.objects} objects, {image.size} bytes"


def prune(log: BaseLog, head: Manifest, now: datetime, retention: timedelta | None = None) -> list[str]:
    """Delete snapshots older than the retention (never LATEST), the images of all but LATEST, and data no claim names.

    Only restores to the present copy an image, and they start from LATEST:
    an older snapshot's image would cost its storage for nothing (its manifest
    still names it; a restore from that snapshot replays its events).
    """
    if retention is None:
        retention = timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)
    cutoff = now - retention
    named: dict[int, set[str]] = {}
    doomed: list[str] = []
    for manifest in snapshot_manifests(log):
        assert manifest.seq is not None
        named[manifest.seq] = images.named_keys(manifest)
        if manifest.seq >= (head.seq or 0):
            continue
        if manifest.created and datetime.fromisoformat(manifest.created) < cutoff:
            doomed += [*named[manifest.seq], k.snapshot_manifest_key(manifest.seq), *(manifest.replaced or ())]
        elif manifest.image and log.exists(manifest.image["key"]):
            doomed.append(manifest.image["key"])
    # Written by the clock of the log, so compared with the real one: a purge writes a snapshot's
    # cleaned data before it moves the manifest to it, and that data must not look unnamed meanwhile.
    settled = datetime.now(UTC) - UNNAMED_AGE
    for info in log.list(k.SNAPSHOTS):
        seq = k.parse_snapshot_data(info.key)
        if seq is None:
            seq = k.parse_snapshot_image(info.key)
        # Data of a lost claim (or a purge's replaced data): only at or below LATEST, where no build can
        # still be running, and an hour old, when no purge is still moving a manifest to it.
        unnamed = seq is not None and info.key not in named.get(seq, ())
        if unnamed and seq <= (head.seq or 0) and info.modified < settled:
            doomed.append(info.key)
    # Manifests first: a half-pruned snapshot leaves unnamed data, which the next
    # prune removes, never a manifest a restore would choose and not find.
    doomed.sort(key=lambda key: not k.is_manifest(key))
    log.delete(doomed)
    # On S3, the data of a large object whose writer died before claiming it (board/log/s3.py).
    remove_orphans = getattr(log, "remove_orphans", None)
    if remove_orphans is not None:
        for prefix in (k.SNAPSHOTS, k.HOURLY, k.DAILY):
            doomed += remove_orphans(prefix)
    return doomed
