"""What a restore reads: a snapshot, the segments it does not hold, and the incoming tail.

To the present: LATEST (or the newest claimed snapshot), the hourly segments
its manifest does not list, and incoming/. daily/ is not needed (everything
in it is held by LATEST), so nothing in Glacier ever is.

To a point in time T: the newest retained snapshot whose events all precede
T, the daily bundles covered only by later snapshots, the hourly segments
neither holds, and incoming/; every event after T is left out. Without such
a snapshot (T before the oldest one kept) it replays every bundle from the
start, which may need archived objects: the plan lists them, and how to
restore them, before anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from board.lifecycle import keys as k
from board.lifecycle.errors import ArchivedObjects
from board.lifecycle.manifests import Manifest
from board.lifecycle.snapshot import daily_manifests, hourly_manifests, latest, snapshot_manifests
from board.log import BaseLog

COLD = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass
class Plan:
    until: datetime | None
    snapshot: Manifest | None
    daily: list[Manifest] = field(default_factory=list)
    hourly: list[Manifest] = field(default_factory=list)

    @property
    def until_ms(self) -> int | None:
        return None if self.until is None else k.ms(self.until)

    @property
    def held(self) -> set[tuple[str, str]]:
        """Hourly segments whose events the plan's snapshot and bundles already hold."""
        held = set(self.snapshot.sources) if self.snapshot is not None else set()
        for bundle in self.daily:
            held.update(bundle.sources)
        return held

    @property
    def segments(self) -> list[Manifest]:
        return ([self.snapshot] if self.snapshot is not None else []) + self.daily + self.hourly

    @property
    def known_events(self) -> int:
        """Events in the planned segments (the incoming tail comes on top)."""
        return sum(m.count for m in self.segments)

    def lines(self) -> list[str]:
        out = []
        if self.snapshot is None:
            out.append("no snapshot: replaying from the first segment")
        else:
            out.append(f"snapshot {self.snapshot.seq}: {self.snapshot.key} ({self.snapshot.count} events)")
        if self.daily:
            out.append(f"{len(self.daily)} daily bundle(s), {sum(m.count for m in self.daily)} events")
        out.append(f"{len(self.hourly)} hourly segment(s), {sum(m.count for m in self.hourly)} events")
        if self.until is not None:
            out.append(f"until {self.until.isoformat()}")
        return out


def plan_restore(log: BaseLog, until: datetime | None = None) -> Plan:
    """The objects a restore to the present (or to ``until``) reads, except the incoming tail."""
    if until is None:
        base = _newest(log)
        daily = [] if base is not None else daily_manifests(log)
    else:
        cutoff = k.ms(until)
        candidates = [m for m in snapshot_manifests(log) if m.stats.max_time <= cutoff]
        base = candidates[-1] if candidates else None
        daily = [
            m
            for m in daily_manifests(log)
            if (base is None or (m.covered_by or 0) > (base.seq or 0)) and m.stats.min_time <= cutoff
        ]
    plan = Plan(until, base, daily)
    plan.hourly = remaining_hourly(log, plan)
    return plan


def remaining_hourly(log: BaseLog, plan: Plan) -> list[Manifest]:
    """The hourly segments (listed now) that the plan's snapshot and bundles do not hold."""
    held = plan.held
    cutoff = plan.until_ms
    dataless: list[Manifest] = []
    found = hourly_manifests(log, dataless)
    # A manifest without data that nothing holds stays in: reading it fails, and
    # the restore looks for a bundle that took it (or reports it missing).
    found += dataless
    return sorted(
        (m for m in found if m.ident not in held and (cutoff is None or m.stats.min_time <= cutoff)),
        key=lambda m: m.key,
    )


def _newest(log: BaseLog) -> Manifest | None:
    """LATEST, or a newer snapshot a builder claimed (and verified) but did not point to yet."""
    head = latest(log)
    claimed = snapshot_manifests(log)
    if claimed and (head is None or (claimed[-1].seq or 0) > (head.seq or 0)):
        return claimed[-1]
    return head


def check_archived(log: BaseLog, plan: Plan) -> None:
    """Raise ArchivedObjects, with the way to restore them, if the plan needs cold objects.

    An object listed in a cold class may already be restored (a temporary
    copy), so each is probed with a read before it is reported.
    """
    wanted = {m.key for m in plan.segments}
    cold = []
    for prefix in {k.SNAPSHOTS, k.HOURLY} | ({k.DAILY} if plan.daily else set()):
        for info in log.list(prefix):
            if info.key in wanted and info.storage_class in COLD and not log.readable(info.key):
                cold.append(info.key)
    if cold:
        raise ArchivedObjects(cold, restore_instructions(log, cold))


def restore_instructions(log: BaseLog, keys: list[str]) -> str:
    """How an operator gets archived objects back (S3: restore-object, then wait)."""
    bucket = getattr(log, "bucket", None)
    if bucket is None:
        return "Restore them from cold storage into the log, then run the restore again."
    prefix = getattr(log, "prefix", "")
    endpoint = getattr(log, "endpoint", "") or ""
    flag = "" if not endpoint or endpoint.endswith(".amazonaws.com") else f" --endpoint-url {endpoint}"
    # A large object's bytes are in its data object (board/log/s3.py): that is what to restore.
    stored = [log.stored_key(key) for key in keys] if hasattr(log, "stored_key") else [prefix + key for key in keys]
    example = stored[0]
    if stored == [prefix + key for key in keys]:
        which, key = "<the keys above>", f"{prefix}$key"
    else:
        which, key = " ".join(stored), "$key"
    return (
        "Restore each one with, e.g.:\n"
        f"  aws s3api restore-object{flag} --bucket {bucket} --key {example} "
        '--restore-request \'{"Days":7,"GlacierJobParameters":{"Tier":"Standard"}}\'\n'
        f"(for all: for key in {which}; do aws s3api restore-object{flag} --bucket {bucket} "
        f"--key {key} --restore-request ...; done)\n"
        'then wait until `aws s3api head-object` shows Restore: ongoing-request="false" '
        "(3-5 hours for GLACIER Standard, up to 12 for DEEP_ARCHIVE) and run the restore again."
    )
