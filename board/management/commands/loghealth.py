"""manage.py loghealth [--count] [--json]: the log-health page's figures in a terminal."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from board.lifecycle import state as logstate
from board.lifecycle.errors import LifecycleError
from board.lifecycle.health import Summary, census, summary
from board.log import LogError, get_log
from board.store import StoreError, get_store


class Command(BaseCommand):
    help = (
        "Print the log's health as the log-health page shows it: the newest rollup, snapshot and bundle and the "
        "incoming backlog (the jobs' tick's last look at the log), whether the rollup, the snapshot or the tick "
        "itself is late, fan-out lag, the last verifylog and storage by class (the census). --count looks at the "
        "log and counts it now (the census, what the utakata.health.census task does, is kept). Exits 1 when "
        "something is late."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count", action="store_true", help="look at the log and count it now (one listing of the bucket)"
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the figures as JSON")

    def handle(self, *args, count, as_json, **options):
        log, store = get_log(), get_store()
        try:
            if count:
                census(log, store)
            found = summary(log, store, look=logstate.look(log) if count else None)
        except (LifecycleError, LogError, StoreError) as exc:
            raise CommandError(f"loghealth failed: {exc}") from exc
        if as_json:
            self.stdout.write(_json(found))
        else:
            for line in lines(found):
                self.stdout.write(line)
        if found.late:
            raise CommandError(", ".join(f"{name} late" for name in found.late))
        self.stdout.write(self.style.SUCCESS("the log is healthy" if not found.alerts else ", ".join(found.alerts)))


def lines(found: Summary) -> list[str]:
    out = []
    for kind, segment in found.segments.items():
        if segment is not None:
            made = segment.made
            out.append(
                f"last {kind}: {made.key}, {made.size} bytes, {made.count} events, sha256 "
                f"{(made.sha256 or '-')[:16]}…, {'present' if segment.present else 'DATA MISSING OR RESIZED'}, "
                f"{made.age(found.now):.0f}s ago"
            )
    look = found.look
    if look is None:
        out.append("look: none recorded yet (start Celery beat and a jobs worker, or run with --count)")
    else:
        age = look.backlog_age(found.now)
        out.append(f"incoming: {look.backlog} event(s) waiting" + (f", the oldest for {age:.0f}s" if age else ""))
        out.append(f"looked at the log at {look.looked_at.isoformat(timespec='seconds')}")
        if look.snapshot is not None:
            out.append(
                f"LATEST's image: {look.snapshot_image} objects, which a restore copies"
                if look.snapshot_image is not None
                else "LATEST has no image: a restore replays its events (the snapshot job's log says why)"
            )
    for finding in found.findings:
        out.append(f"{finding.name}: {'LATE' if finding.late else 'on time'}, {finding.detail}")
    if found.last_fanout is not None:
        took, applied = found.last_fanout
        ago = found.now.timestamp() - applied
        out.append(f"fan-out: the latest applied event took {took:.1f}s from its commit, {ago:.0f}s ago")
    kept = found.census
    if kept is None:
        out.append("census: none yet (run with --count, or start the Celery beat)")
    else:
        out.append(f"fan-out: {kept['lag']['posts']} post(s) not in the store, oldest {kept['lag']['seconds']}s")
        for name, c in kept["classes"].items():
            out.append(f"storage {name}: {c['objects']} object(s), {c['bytes']} bytes")
        out.append(f"census: counted at {kept['at']} in {kept['seconds']}s" + (", STALE" if found.census_stale else ""))
    if found.verification:
        v = found.verification
        out.append(f"verifylog at {v['at']}: {v['drift']} drift(s) in {v['objects']} object(s)")
    return out


def _json(found: Summary) -> str:
    return json.dumps({**asdict(found), "alerts": found.alerts}, default=str, ensure_ascii=False, indent=1)
