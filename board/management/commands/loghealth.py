"""manage.py loghealth [--count] [--json]: the log-health page's figures in a terminal."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from board.lifecycle.errors import LifecycleError
from board.lifecycle.health import census, summary
from board.log import LogError, get_log
from board.store import StoreError, get_store


class Command(BaseCommand):
    help = (
        "Print the log's health: the newest rollup, snapshot and bundle, the incoming tail, fan-out lag, the "
        "last verifylog, storage by class, and 'rollup late' / 'snapshot late'. --count lists the whole log "
        "first (what the utakata.health.census task does) and keeps the result. Exits 1 when something is late."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", action="store_true", help="count the log now (one listing of the bucket)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the figures as JSON")

    def handle(self, *args, count, as_json, **options):
        log, store = get_log(), get_store()
        try:
            if count:
                census(log, store)
            found = summary(log, store)
        except (LifecycleError, LogError, StoreError) as exc:
            raise CommandError(f"loghealth failed: {exc}") from exc
        if as_json:
            self.stdout.write(_json(found))
        else:
            for line in lines(found):
                self.stdout.write(line)
        if found.rollup_late or found.snapshot_late:
            raise CommandError(", ".join(a for a in found.alerts if a.endswith("late")))
        self.stdout.write(self.style.SUCCESS("the log is healthy" if not found.alerts else ", ".join(found.alerts)))


def lines(found) -> list[str]:
    out = []
    for segment in (found.rollup, found.snapshot, found.bundle):
        if segment is not None:
            age = segment.age(found.now)
            out.append(
                f"{segment.kind}: {segment.key}, {segment.size} bytes, {segment.count} events, sha256 "
                f"{segment.sha256[:16]}…, {'present' if segment.present else 'DATA MISSING OR RESIZED'}"
                + (f", {int(age.total_seconds())}s ago" if age is not None else "")
            )
    kept = found.census
    if kept is None:
        out.append("census: none yet (run with --count, or start the Celery beat)")
    else:
        out.append(f"incoming: {kept['waiting']} event(s) waiting, oldest since {kept['oldest'] or '-'}")
        out.append(f"fan-out: {kept['lag']['posts']} post(s) not in the store, oldest {kept['lag']['seconds']}s")
        for name, c in kept["classes"].items():
            out.append(f"storage {name}: {c['objects']} object(s), {c['bytes']} bytes")
        out.append(f"counted at {kept['at']} in {kept['seconds']}s")
    if found.verification:
        v = found.verification
        out.append(f"verifylog at {v['at']}: {v['drift']} drift(s) in {v['objects']} object(s)")
    return out


def _json(found) -> str:
    raw = asdict(found)
    return json.dumps(raw, default=str, ensure_ascii=False, indent=1)
