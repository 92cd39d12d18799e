"""manage.py rehydrate: rebuild the store from the log (snapshot + segments + the unrolled tail)."""

from __future__ import annotations

import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from board.lifecycle.errors import LifecycleError
from board.lifecycle.follow import Follower
from board.lifecycle.keys import parse_time
from board.lifecycle.plan import Plan, check_archived, plan_restore
from board.lifecycle.rehydrate import RestoreReport, default_workers, restore, was_restored
from board.log import LogError, get_log
from board.ops import metrics
from board.store import StoreError, get_store

CATCH_UP_ROUNDS = 10  # at most, before a --replace switches
CAUGHT_UP = 5  # events a catch-up round may still find for the new generation to become current
# Beyond generation_ttl, for a write that read the pointer just before it expired and is still on its way.
POINTER_MARGIN = 0.5
# Each restore process reads every segment and holds its decoding (about 150 MB): a slip of the
# keyboard (400 for 4) must not fork hundreds, each reading the whole log again.
MAX_WORKERS = 32
PARTIAL = "the store now holds part of the restore; fix the cause and run `manage.py rehydrate --replace`"


def queue_retire(stdout) -> None:
    """Ask the workers to remove the generations the store no longer uses (beat also does, hourly)."""
    from board.tasks.lifecycle import retire_generations

    try:
        retire_generations.delay()
        stdout.write("old generations will be removed in the background")
    except Exception as exc:  # the broker is down: the hourly run removes them
        stdout.write(f"old generations are left for the hourly retire task (could not queue it: {exc})")


class Command(BaseCommand):
    help = (
        "Restore the store from the durable log: the latest snapshot, the hourly segments it does not hold, "
        "and the incoming tail. Refuses a store that holds data unless told what to do with it."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty",
            action="store_true",
            help="restore only if the store is empty; otherwise do nothing and succeed (container entrypoints)",
        )
        mode.add_argument("--merge", action="store_true", help="apply the log on top of what the store holds")
        mode.add_argument(
            "--replace",
            action="store_true",
            help="restore into a new generation beside the live store, then switch to it (readers never see it empty)",
        )
        parser.add_argument(
            "--until",
            type=_time,
            help="point-in-time restore: the board as it was at TIME (ISO 8601; UTC if no offset)",
        )
        parser.add_argument("--dry-run", action="store_true", help="read and check everything, apply nothing")
        parser.add_argument(
            "--follow", action="store_true", help="after the restore, keep applying new events until SIGTERM/Ctrl-C"
        )
        parser.add_argument(
            "--interval", type=_seconds, default=1.0, help="seconds between polls with --follow (above 0)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-image",
            action="store_true",
            help="replay the snapshot's events even where its image (the objects they give) could be copied",
        )
        parser.add_argument(
            "--workers",
            type=_workers,
            default=default_workers(),
            help=(
                "processes that replay the segments, each a shard of the threads and of the search index "
                f"(default: one per CPU, up to 4; at most {MAX_WORKERS})"
            ),
        )

    def handle(
        self,
        *args,
        if_empty,
        merge,
        replace,
        until,
        dry_run,
        follow,
        interval,
        no_progress,
        no_image,
        workers,
        **options,
    ):
        if follow and (until or dry_run):
            raise CommandError("--follow keeps a store current; it cannot be combined with --until or --dry-run")
        log, store = get_log(), get_store()
        if settings.METRICS_ADDR:
            metrics.serve(settings.METRICS_ADDR)  # a long restore's progress, before gunicorn serves them
        self.fed = 0
        self.was_empty = False
        try:
            if not dry_run and not self.ready(store, if_empty, merge, replace):
                return
            plan = plan_restore(log, until)
            check_archived(log, plan)
            for line in plan.lines():
                self.stdout.write(line)
            target = store.staging() if replace and not dry_run else store
            if target is not store:
                self.stdout.write(f"building generation {target.generation()} beside the live one (--replace)")
            report = self.restore(log, target, plan, dry_run, no_progress, workers, not no_image)
            if target is not store:
                self.switch(log, target, plan, report)
        except (LifecycleError, LogError, StoreError) as exc:
            partial = "" if dry_run or replace or not self.touched(store) else f"\n{PARTIAL}"
            raise CommandError(f"rehydrate failed: {exc}{partial}") from exc
        for line in report.lines():
            self.stdout.write(line)
        if not report.applied:
            # Right for a new board; from a mistyped bucket or prefix, the store would be marked
            # restored with nothing in it, and --if-empty would leave it so once the URL is right.
            self.stderr.write(
                self.style.WARNING(
                    f"the log at {log.location!r} holds no events: if this board had posts, UTAKATA_LOG_URL "
                    "names the wrong place; fix it and run `manage.py rehydrate --merge`"
                )
            )
        self.stdout.write(self.style.SUCCESS("dry run: every object read and checked" if dry_run else "rehydrated"))
        if follow:
            self.follow(Follower(log, target, plan, report), interval)

    def switch(self, log, target, plan: Plan, report: RestoreReport) -> None:
        """Catch the rebuilt generation up with the log and make it current in two phases (see generations.py)."""
        follower = Follower(log, target, plan, report)
        # Readers must not lose what they saw in the live generation. What was committed during
        # the build goes into the new one in rounds (each takes what arrived during the one
        # before) until a round finds little; that keeps the rest of the switch short.
        caught = 0
        for _ in range(CATCH_UP_ROUNDS):
            applied = follower.step()
            caught += applied
            if applied <= CAUGHT_UP:
                break
        try:
            # Writers that read the pointer from now on apply to the new generation too. Those
            # still trusting a pointer read before it (at most pointer_ttl ago) apply to the old
            # one only: once every such pointer has expired, a last round takes what they
            # committed, and nothing readers can see is missing from the new generation.
            target.start_dual_write()
            deadline = time.monotonic() + target.pointer_ttl + POINTER_MARGIN
            while time.monotonic() < deadline:
                caught += follower.step()  # keeps the last round short
                time.sleep(0.05)
            caught += follower.step()
            target.promote()
        except BaseException:
            self.give_up(target)
            raise
        self.stdout.write(
            f"switched to generation {target.generation()}; {caught} event(s) committed during the build applied"
        )
        queue_retire(self.stdout)

    def give_up(self, target) -> None:
        """Stop the dual write into a generation that will not become current."""
        try:
            target.abandon()
        except StoreError as exc:
            self.stderr.write(
                f"could not give up generation {target.generation()} ({exc}): writers keep writing to it "
                "until the next `rehydrate --replace` or flush"
            )

    def touched(self, store) -> bool:
        """Whether a restore that failed may have left part of itself in the store.

        Nothing was handed to the store if no event was read (a missing
        bucket, a wrong key: the first read failed), and nothing landed if a
        store that was empty still is.
        """
        if not self.fed:
            return False
        try:
            return not (self.was_empty and store.is_empty())
        except StoreError:
            return True

    def ready(self, store, if_empty: bool, merge: bool, replace: bool) -> bool:
        """Whether to go on: the store is empty, or the operator said what to do with its data."""
        self.was_empty = store.is_empty()
        if self.was_empty or merge:
            return True
        if if_empty:
            if was_restored(store):
                self.stdout.write("the store already holds data; nothing to do (--if-empty)")
                return False
            # Data but no finished restore: one was killed halfway, or fan-out wrote first.
            # Applying is idempotent, so the log is merged into what is there.
            self.stdout.write("the store holds data but no finished restore: merging the log into it (--if-empty)")
            return True
        if replace:
            return True
        raise CommandError(
            "the store is not empty: use --merge to apply the log on top of it, --replace to empty it first, "
            "or --if-empty to leave it alone"
        )

    def restore(
        self, log, store, plan: Plan, dry_run: bool, no_progress: bool, workers: int, image: bool
    ) -> RestoreReport:
        bar = tqdm(
            total=plan.known_events,
            unit=" events",
            unit_scale=True,
            desc="dry run" if dry_run else "rehydrate",
            disable=True if no_progress else None,
            file=sys.stderr,
        )
        with bar:

            def progress(count: int) -> None:
                self.fed += count
                metrics.REHYDRATE_APPLIED.inc(count)
                if bar.n + count > (bar.total or 0):
                    bar.total = bar.n + count  # the incoming tail was not counted up front
                bar.update(count)

            return restore(log, store, plan, dry_run=dry_run, progress=progress, workers=workers, image=image)

    def follow(self, follower: Follower, interval: float) -> None:
        stop = threading.Event()

        def stop_following(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, stop_following) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"following the log every {interval}s (SIGTERM or Ctrl-C stops)")
        self.stdout.flush()
        try:
            follower.run(stop, interval, lambda applied: self._followed(applied))
        except (LifecycleError, LogError, StoreError) as exc:
            raise CommandError(f"follow stopped: {exc}") from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(self.style.SUCCESS(f"stopped following; {follower.applied} event(s) applied meanwhile"))

    def _followed(self, applied: int) -> None:
        if applied:
            self.stdout.write(f"applied {applied} new event(s)")
            self.stdout.flush()


def _time(text: str):
    from argparse import ArgumentTypeError

    try:
        return parse_time(text)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    from argparse import ArgumentTypeError

    try:
        seconds = float(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    # 0, below it or nan: the follower would poll the log without a pause (every poll lists it).
    if not 0 < seconds < float("inf"):
        raise ArgumentTypeError(f"{text!r}: give the seconds between polls, above 0")
    return seconds


def _workers(text: str) -> int:
    from argparse import ArgumentTypeError

    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_WORKERS):
        raise ArgumentTypeError(f"{text!r}: give a number of processes from 1 to {MAX_WORKERS}")
    return int(text)
