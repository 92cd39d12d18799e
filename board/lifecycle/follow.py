"""Following the log: a restored store kept up to date with what is committed (or rolled up) after its restore.

A Follower remembers the incoming objects and segments the restore applied
(its report) and, at each step, applies only what is new: ``rehydrate
--follow``, the catch-up rounds of ``rehydrate --replace``, and verifylog's
last round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from board.lifecycle import keys as k
from board.lifecycle.manifests import Manifest, read_manifest
from board.lifecycle.plan import Plan
from board.lifecycle.rehydrate import RestoreReport
from board.lifecycle.segments import events
from board.lifecycle.tail import pending, read_objects
from board.log import BaseLog
from board.log.layout import INCOMING
from board.readmodel.batch import BatchApplier
from board.store import BaseStore


class Follower:
    """Keeps a restored store up to date: applies what is committed (or rolled up) after the restore."""

    def __init__(self, log: BaseLog, store: BaseStore, plan: Plan, report: RestoreReport) -> None:
        self.log = log
        self.store = store
        self.plan = plan
        self.seen = set(report.incoming_seen)
        self.segments = set(report.segments_seen) | plan.held
        self.manifests: set[tuple[str, object]] = set()  # (key, modified) of hourly manifests already read
        self.applied = 0

    def step(self) -> int:
        """One poll: new incoming objects, then hourly segments not applied yet. Returns events applied."""
        listed = list(pending(self.log.list(INCOMING)))
        fresh = [info for info in listed if info.key not in self.seen]
        applied = 0
        with BatchApplier(self.store) as applier:
            for item in read_objects(self.log, fresh):
                if item.event is not None:
                    applier.add(item.event)
                    self.seen.add(item.key)
                    applied += 1
            for manifest in self._new_segments():
                for event in events(self.log, manifest):
                    applier.add(event)
                    applied += 1
                self.segments.add(manifest.ident)
        # Forget keys rolled up meanwhile: the set stays the size of the tail.
        self.seen &= {info.key for info in listed}
        self.applied += applied
        return applied

    def _new_segments(self) -> list[Manifest]:
        """Hourly segments written since the last poll (only their manifests are read, once)."""
        listed = list(self.log.list(k.HOURLY))
        data = {info.key for info in listed if not k.is_manifest(info.key)}
        found = []
        for info in listed:
            mark = (info.key, info.modified)
            if not k.is_manifest(info.key) or mark in self.manifests:
                continue
            manifest = read_manifest(self.log, info.key)
            if manifest.key not in data:
                continue  # its data is not there yet (or no longer): look again next poll
            self.manifests.add(mark)
            if manifest.ident not in self.segments:
                found.append(manifest)
        return found

    def run(self, stop: threading.Event, interval: float, on_step: Callable[[int], None] | None = None) -> int:
        """Poll every interval seconds until stop is set; return the events applied."""
        while not stop.is_set():
            applied = self.step()
            if on_step is not None:
                on_step(applied)
            stop.wait(interval)
        return self.applied
