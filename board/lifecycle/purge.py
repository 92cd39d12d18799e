"""Purge: rewrite purged text out of every object of the log that still holds it.

A deleted post (あぼーん) keeps its text in the hourly segments, the daily
bundles and the snapshots built before its deletion, so a point-in-time
restore brings it back; a moderator account's password and cap hashes stay in
every object that holds its events. A purge is the one operation besides
expiry that removes data from the log. Its list (purgelist.py) is applied by
every reader from the moment it is recorded; this module, the sweep, then
rewrites each object that still holds purged text.

Per segment object (hourly, daily bundle, snapshot), each step found done by
a re-run, so a sweep killed anywhere is resumed by the next one:

1. read the data through the purge list into a temporary file; if nothing was
   taken out, the object is clean: stop;
2. create the cleaned bytes under a new key named after them
   (``keys.rewritten_key``) and read them back against the new manifest;
3. replace the manifest (it keeps its key, which is what readers and
   plan_restore follow) with one naming the new data; ``origin`` keeps the
   segment's identity (bundles and snapshots list hourly segments by it),
   ``replaced`` the old data key;
4. delete the old data;
5. delete every other data object of the manifest's slot: the old data of a
   sweep that stopped after 3, or the cleaned data of one that stopped after
   2 and whose re-run wrote other bytes (the list grew meanwhile).

A crash after 2 leaves the old manifest naming the old data: readable, and
read through the purge list. A crash after 3 leaves old data no manifest
names: step 5 of the next sweep removes it, and so do the bundler and the
snapshot prune if they remove the segment first (they remove ``replaced``
with it). A restore that finds its segment's data gone reads the manifest
again (manifests.current).

The incoming objects are rewritten in place: a purged post's claim (not
rolled up yet, or its thread's kept highest claim) must stay at its key,
which is its number, for numbering; an account's events not rolled up yet
likewise. Both are replaced by the redacted event, one PUT each.

Archived objects (Glacier) cannot be read until restored: they are recorded
as pending in the purge's entry and tried by every sweep (the hourly task)
until a restore makes them readable, then rewritten; the cleaned copy is
written in STANDARD and tiers again under the bucket's rules. Meanwhile every
read applies the purge list.

When a purge is done: a job that read the log before the purge was recorded
(a rollup, a snapshot or a bundle under way) may write an object with the
text after the first sweep looked. So each purge is looked at twice: at once
in every object that may hold it, and again once SETTLE has passed, in the
objects written since it was recorded; with nothing pending it is then done
and no sweep reads anything for it again.

Sweeps run one at a time (``exclusive``, a lock in the shared cache): step 5
must not remove the data another sweep is about to name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from board.events import EventType, decode, encode
from board.lib.lease import Lease
from board.lifecycle import keys as k
from board.lifecycle import purgelist
from board.lifecycle.errors import LifecycleError
from board.lifecycle.images import Image, named_keys
from board.lifecycle.manifests import Manifest, read_manifest
from board.lifecycle.purgelist import NOTHING, Entry, PurgeList
from board.lifecycle.segments import SegmentWriter, events, verify
from board.lifecycle.tail import read_objects
from board.log import Archived, BaseLog, NotFound, ObjectInfo
from board.log.layout import INCOMING_EVENTS, post_key

logger = logging.getLogger(__name__)

SETTLE = timedelta(hours=2)  # longer than any job that reads the log before it writes (a snapshot build)
CLOCKS = timedelta(minutes=10)  # the log's clock against ours, when "written since" is asked
COLD = frozenset({"GLACIER", "DEEP_ARCHIVE"})
LOCK_SECONDS = 3600  # renewed after each object; a killed sweep's lock lapses within the hour
ACCOUNT_TYPES = (EventType.MODERATOR_CREATED, EventType.MODERATOR_CHANGED)


class Busy(LifecycleError):
    """Another sweep holds the lock (or the cache that holds it cannot be reached)."""


@dataclass
class SweepReport:
    rewritten: list[str] = field(default_factory=list)  # objects rewritten (or that would be, in a dry run)
    checked: int = 0
    pending: list[str] = field(default_factory=list)  # archived (or failed) objects still holding text
    removed: list[str] = field(default_factory=list)  # old data of rewritten objects, and their images
    done: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would rewrite" if self.dry_run else "rewrote"
        out = [f"{verb} {key}" for key in self.rewritten]
        out += [f"{'would remove' if self.dry_run else 'removed'} {key}" for key in self.removed]
        out += [f"pending (archived: restore it, the next sweep rewrites it) {key}" for key in self.pending]
        out += [f"error {line}" for line in self.errors]
        out.append(
            f"{len(self.rewritten)} object(s) {'to rewrite' if self.dry_run else 'rewritten'}, {self.checked} "
            f"checked, {len(self.pending)} pending; "
            + (
                f"purges a sweep would finish: {len(self.done)}, would leave open: {len(self.open)} (nothing recorded)"
                if self.dry_run
                else f"purges done: {len(self.done)}, still open: {len(self.open)}"
            )
        )
        return out


# --- one object ---------------------------------------------------------------------


def rewrite(log: BaseLog, manifest_key: str, manifest: Manifest, purges: PurgeList, dry_run: bool = False) -> bool:
    """Steps 1-4 for one segment: whether it held purged text (and was rewritten, unless dry_run)."""
    with SegmentWriter() as writer:
        taken = 0
        for event in events(log, manifest, purges=NOTHING):
            if purges.holds_text(event):
                event = purges.redact(event)
                taken += 1
            writer.write(event)
        if not taken or dry_run:
            return bool(taken)
        stats = writer.finish()
        new_key = k.rewritten_key(manifest.key, stats.sha256)
        log.create_from_file(new_key, writer.file)
    # A snapshot's image holds what its events held: it goes with the old data (restores replay the
    # cleaned events until the next snapshot makes an image of its own).
    image = Image.of(manifest)
    moved = dataclasses.replace(
        manifest,
        key=new_key,
        stats=stats,
        origin=manifest.ident,
        replaced=(*(manifest.replaced or ()), manifest.key),
        image=None,
    )
    verify(log, moved)
    log.replace(manifest_key, moved.to_bytes())
    log.delete([manifest.key] + ([image.key] if image else []))
    logger.info("purge: %s rewritten to %s (%d event(s) cleaned)", manifest.key, new_key, taken)
    return True


# --- the sweep ------------------------------------------------------------------------


@dataclass
class _Listed:
    """A segment's manifest as listed, and its slot's data objects."""

    manifest_key: str
    info: ObjectInfo
    data: list[ObjectInfo]


def _slot(key: str) -> tuple | None:
    """What a data or manifest key is a version of: its kind, its hour/day/sequence and part."""
    parsed = k.parse_hourly(key)
    if parsed is not None:
        return ("hourly", *parsed)
    found = k.parse_daily(key)
    if found is not None:
        return ("daily", *found)
    seq = k.parse_snapshot_manifest(key)
    if seq is None:
        seq = k.parse_snapshot_data(key)
    if seq is None:
        seq = k.parse_snapshot_image(key)
    return ("snapshot", seq) if seq is not None else None


def _segments(log: BaseLog) -> Iterator[_Listed]:
    """Every segment manifest under hourly/, daily/ and snapshots/, with its slot's data, a prefix at a time."""
    for prefix in (k.HOURLY, k.DAILY, k.SNAPSHOTS):
        manifests: dict[tuple, ObjectInfo] = {}
        data: dict[tuple, list[ObjectInfo]] = defaultdict(list)
        for info in log.list(prefix):
            slot = _slot(info.key)
            if slot is None:
                continue
            if k.is_manifest(info.key):
                manifests[slot] = info
            else:
                data[slot].append(info)
        for slot, info in manifests.items():
            yield _Listed(info.key, info, data.get(slot, []))


def _look(entry: Entry, now: datetime) -> str:
    """What a sweep reads for an open purge: everything, what was written since, or only what is pending."""
    if not entry.body.get("checked"):
        return "full"
    if not entry.body.get("settled") and now >= entry.recorded + SETTLE:
        return "since"
    return "pending"


def _may_hold(entry: Entry, manifest: Manifest) -> bool:
    """Whether a segment may hold the purged post's or account's events (from its manifest alone)."""
    stats = manifest.stats
    if not stats.count:
        return False
    if not entry.is_post:
        return any(stats.types.get(kind) for kind in ACCOUNT_TYPES)
    after, before = entry.body.get("after", 0), entry.body.get("before") or float("inf")
    if manifest.kind == "snapshot":  # the all-time log up to max_time
        return stats.max_time >= after
    return stats.max_time >= after and stats.min_time <= before


def _wants(entry: Entry, look: str, listed: _Listed, manifest: Manifest) -> bool:
    if listed.manifest_key in entry.pending:
        return True
    if look == "pending" or not _may_hold(entry, manifest):
        return False
    return look == "full" or listed.info.modified >= entry.recorded - CLOCKS


def sweep(
    log: BaseLog, dry_run: bool = False, now: datetime | None = None, renew=None, extra: list[Entry] | None = None
) -> SweepReport:
    """Rewrite every object that holds text of an open purge; record per purge what is left (see the docstring).

    extra: purges not on the list, for a dry run to say what purging them would rewrite.
    """
    if extra and not dry_run:
        raise ValueError("purges not on the list are only for a dry run: record them first")
    now = now or datetime.now(UTC)
    renew = renew or (lambda: None)
    report = SweepReport(dry_run=dry_run)
    todo = [entry for entry in purgelist.entries(log) if not entry.done] + list(extra or ())
    if not todo:
        return report
    purges = purgelist.load(log).adding(extra or ())
    looks = {entry.key: _look(entry, now) for entry in todo}
    pending: dict[str, list[str]] = {entry.key: [] for entry in todo}

    report.rewritten += _incoming(log, purges, todo, dry_run)
    for listed in _segments(log):
        try:
            manifest = read_manifest(log, listed.manifest_key)
        except Archived:
            # An endpoint whose rule tiers small objects too (RGW, moto: README, "S3 endpoints"): nothing
            # says what the segment holds until it is restored, so every open purge waits for it.
            report.pending.append(listed.manifest_key)
            for entry in todo:
                pending[entry.key].append(listed.manifest_key)
            continue
        except LifecycleError as exc:
            report.errors.append(f"{listed.manifest_key}: {exc}")
            for entry in todo:
                pending[entry.key].append(listed.manifest_key)
            continue
        wanting = [entry for entry in todo if _wants(entry, looks[entry.key], listed, manifest)]
        if not wanting:
            continue
        report.checked += 1
        outcome = _one(log, listed, manifest, purges, dry_run, report)
        if outcome in ("archived", "failed"):
            for entry in wanting:
                pending[entry.key].append(listed.manifest_key)
        renew()

    for entry in todo:
        still = sorted(set(pending[entry.key]))
        settled = bool(entry.body.get("settled")) or looks[entry.key] == "since"
        if not dry_run:
            changes = {"pending": still, "settled": settled, "done": settled and not still}
            if looks[entry.key] == "full":
                changes["checked"] = now.isoformat(timespec="seconds")
            purgelist.save(log, entry, **changes)
        (report.done if settled and not still else report.open).append(entry.label)
    return report


def _one(log: BaseLog, listed: _Listed, manifest: Manifest, purges: PurgeList, dry_run: bool, report) -> str:
    """One segment: rewritten, clean, archived or failed; then its slot's other data removed (step 5)."""
    stored = next((info for info in listed.data if info.key == manifest.key), None)
    outcome = "clean"
    if stored is not None and stored.storage_class in COLD and not log.readable(manifest.key):
        report.pending.append(manifest.key)
        return "archived"
    try:
        if rewrite(log, listed.manifest_key, manifest, purges, dry_run):
            report.rewritten.append(manifest.key)
            image = Image.of(manifest)
            report.removed += [image.key] if image else []  # with the old data (rewrite)
            outcome = "rewritten"
    except LifecycleError as exc:
        report.errors.append(f"{manifest.key}: {exc}")
        return "failed"
    if not dry_run:
        named = named_keys(read_manifest(log, listed.manifest_key))
        stale = [info.key for info in listed.data if info.key not in named]
        if stale:
            log.delete(stale)
            report.removed += stale
    return outcome


def _incoming(log: BaseLog, purges: PurgeList, todo: list[Entry], dry_run: bool) -> list[str]:
    """Claims of purged posts and account events still in incoming/, rewritten in place (their keys are taken)."""
    done = []
    for entry in todo:
        if not entry.is_post:
            continue
        key = post_key(entry.body["board"], entry.body["thread"], entry.body["number"])
        try:
            event = decode(log.read(key))
        except NotFound:
            continue  # rolled up, or not committed
        if purges.holds_text(event):
            if not dry_run:
                log.replace(key, encode(purges.redact(event)))
            done.append(key)
    if any(not entry.is_post for entry in todo):
        for item in read_objects(log, log.list(INCOMING_EVENTS), purges=NOTHING):
            if item.event is not None and purges.holds_text(item.event):
                if not dry_run:
                    log.replace(item.key, encode(purges.redact(item.event)))
                done.append(item.key)
    return done


# --- one sweep at a time ----------------------------------------------------------------


def sweep_lease() -> Lease:
    """The lease one purge sweep at a time holds (shared by every worker and manage.py purge)."""
    return Lease("purge-sweep", LOCK_SECONDS)


@contextlib.contextmanager
def exclusive() -> Iterator:
    """Hold the sweep lock (Busy if another sweep has it); yields a function that renews it."""
    lease = sweep_lease()
    try:
        token = lease.take()
    except Exception as exc:  # a sweep without the lock could remove another's fresh data
        raise Busy(f"the cache holding the purge lock cannot be reached: {exc}") from exc
    if token is None:
        raise Busy("another purge sweep is running; it will do this purge's work too")
    try:
        yield lambda: lease.renew(token)
    finally:
        lease.release(token)


def sweep_exclusive(log: BaseLog, dry_run: bool = False, now: datetime | None = None) -> SweepReport:
    """A sweep under the lock (a dry run writes nothing and needs none)."""
    if dry_run:
        return sweep(log, dry_run=True, now=now)
    with exclusive() as renew:
        return sweep(log, now=now, renew=renew)
