"""Rehydrate: events/s restoring a 1,000,000-event snapshot into the embedded SQLite store.

A realistic board is generated (eight boards, threads born and falling off
each board's cap, activity skewed to the newest threads, threads stopping at
1000, sage, trips, IDs, anchors, multi-line bodies, moderator deletions),
written as hourly segments to a local file log, and folded by the real
snapshot code into one snapshot. Then, each in a fresh process so that each
reports its own peak RSS:

- the floor: read and decode the same snapshot (board.lifecycle.segments'
  reader, checksum and all) without applying anything;
- rehydrate: ``plan_restore`` + ``restore`` (what ``manage.py rehydrate``
  runs) into an empty SQLite store, which copies the snapshot's image (the
  objects its events give, board/lifecycle/images.py);
- replay: the same restore with ``image=False`` (``rehydrate --no-image``,
  or a snapshot whose image cannot be used), which replays the events with
  the default number of processes (one per CPU, each a shard of the threads).

The figure is ``rehydrate`` events/s with the floor as its baseline; the goal
is at least 30,000 events/s and a ratio of at least 1/3 (within 3x of the
floor). Peak RSS is also measured restoring 40% as many events (enough to
fill the replay's cache): it should be about the same (memory flat as the
log grows). Floor and restore alternate in rounds and the medians are kept.

    .venv/bin/python -m bench.rehydrate [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from board.boards import UNLIMITED

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 1_000_000
PER_SEGMENT = 25_000  # events per generated hourly segment (a busy board's hour)


def setup_django(data_dir: str) -> None:
    os.environ.setdefault("UTAKATA_DEBUG", "1")
    os.environ.setdefault("UTAKATA_DATA_DIR", data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "boards_site.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- a realistic board ---------------------------------------------------------------

BOARDS = ["news", "livejupiter", "poverty", "tech", "anime", "game", "sports", "music"]
PHRASES = [
    "それな",
    "ワロタ",
    "これはひどい",
    "今北産業",
    "kwsk",
    "ソースは？",
    "マジかよ",
    "草生える",
    "普通に考えておかしいだろ",
    "昔はよかったなあ",
    "明日も仕事だわ",
    "ちょっと調べてくる",
    "http://example.com/news/12345",
    "お前ら何時に寝るの",
    "名無しに代わりましてVIPがお送りします",
    "もう少しで1000だな",
    "スレ立て乙",
    "この流れ好き",
    "ageてやるよ",
    "さすがにそれはない",
]
NAMES = ["名無しさん"] * 18 + ["コテハン ◆Ab3dEf9hJk", "職人 ◆kTr1pC0de1"]


class Board:
    """One board's live threads, newest first; replies favour the newest (a quick approximation of bumps)."""

    def __init__(self, name: str, cap: int) -> None:
        self.name = name
        self.cap = cap
        self.live: list[list] = []  # [key, count, last bump ms]


def generate(count: int, rng: random.Random):
    """Yield count events of eight boards in time (and id) order."""
    from board.events import EventType, new_event

    boards = [Board(name, cap=rng.choice([300, 500])) for name in BOARDS]
    weights = [8, 10, 4, 2, 3, 3, 2, 1]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"{rng.getrandbits(48):012x}"[:8] for _ in range(5000)]
    made = 0
    for board in boards:
        yield new_event(EventType.BOARD_CREATED, board.name, payload={"title": board.name, **UNLIMITED}, at=now)
        now += timedelta(milliseconds=1)
        made += 1
    key_seconds = int(now.timestamp())
    while made < count:
        now += timedelta(milliseconds=1 + int(rng.expovariate(1 / 2500)))
        ms = int(now.timestamp() * 1000)
        board = rng.choices(boards, weights)[0]
        roll = rng.random()
        if not board.live or roll < 0.008:
            key_seconds = max(key_seconds + 1, ms // 1000)
            key = str(key_seconds)
            payload = post_payload(rng, ids) | {"subject": rng.choice(PHRASES)[:20] + "スレ"}
            yield new_event(EventType.THREAD_CREATED, board.name, key, 1, payload, at=now)
            board.live.insert(0, [key, 1, ms])
            made += 1
            if len(board.live) > board.cap:
                oldest = min(range(len(board.live)), key=lambda i: board.live[i][2])
                fallen = board.live.pop(oldest)
                now += timedelta(milliseconds=1)
                yield new_event(EventType.THREAD_ARCHIVED, board.name, fallen[0], at=now)
                made += 1
            continue
        if roll < 0.011:
            thread = rng.choice(board.live[:50])
            number = rng.randint(1, thread[1])
            yield new_event(EventType.POST_DELETED, board.name, thread[0], number, {"reason": "削除依頼"}, at=now)
            made += 1
            continue
        index = min(int(rng.expovariate(1 / 12)), len(board.live) - 1)
        thread = board.live[index]
        thread[1] += 1
        payload = post_payload(rng, ids, thread[1])
        if "sage" not in payload["mail"]:
            thread[2] = ms
        yield new_event(EventType.POST_CREATED, board.name, thread[0], thread[1], payload, at=now)
        made += 1
        if thread[1] >= 1000:
            board.live.remove(thread)  # stopped: nobody can post there any more


def post_payload(rng: random.Random, ids: list[str], number: int = 1) -> dict:
    lines = []
    if number > 2 and rng.random() < 0.4:
        lines.append(f">>{rng.randint(1, number - 1)}")
    for _ in range(1 + int(rng.expovariate(1 / 1.5))):
        lines.append("".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 4))))
    return {
        "name": rng.choice(NAMES),
        "mail": "sage" if rng.random() < 0.3 else "",
        "body": "\n".join(lines[:12]),
        "id": rng.choice(ids),
    }


def make_snapshot_of(directory: Path, count: int, seed: int = 1) -> dict:
    """Generate count events as hourly segments in a file log at directory, then snapshot them."""
    from board.lifecycle import keys as k
    from board.lifecycle.rollup import hourly_manifest
    from board.lifecycle.segments import SegmentWriter, upload
    from board.lifecycle.snapshot import latest, make_snapshot
    from board.log.local import LocalLog

    log = LocalLog(str(directory))
    started = time.perf_counter()
    stream = generate(count, random.Random(seed))
    part = 0
    done = False
    while not done:
        writer = SegmentWriter()
        with writer:
            for _ in range(PER_SEGMENT):
                event = next(stream, None)
                if event is None:
                    done = True
                    break
                writer.write(event)
            stats = writer.finish()
            if stats.count:
                hour = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=part)
                key = k.hourly_key(hour)
                upload(log, writer, hourly_manifest(key, hour, 0, stats), k.manifest_key(key))
                part += 1
    generated = time.perf_counter() - started
    started = time.perf_counter()
    report = make_snapshot(log, now=datetime(2027, 1, 1, tzinfo=UTC))
    image = latest(log).image or {}
    return {
        "image_mb": image.get("size", 0) / 2**20,
        "image_objects": image.get("objects", 0),
        "generate_s": generated,
        "snapshot_s": time.perf_counter() - started,
        "events": report.count,
        "bytes": report.size,
        "segments": part,
        "redacted": report.redacted,
        "peak_rss_mb": peak_rss_mb(),
    }


def floor(directory: Path) -> dict:
    """Read and decode the snapshot, applying nothing: what rehydrate cannot beat."""
    from board.lifecycle.segments import events
    from board.lifecycle.snapshot import latest
    from board.log.local import LocalLog

    log = LocalLog(str(directory))
    manifest = latest(log)
    started = time.perf_counter()
    count = sum(1 for _ in events(log, manifest))
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": seconds, "rate": count / seconds, "peak_rss_mb": peak_rss_mb()}


def rehydrate(directory: Path, store_path: Path, workers: int, image: bool = True) -> dict:
    """What manage.py rehydrate runs, into an empty SQLite store (``image=False``: with --no-image)."""
    from board.lifecycle.plan import plan_restore
    from board.lifecycle.rehydrate import restore
    from board.log.local import LocalLog
    from board.store.sqlite import SQLiteStore

    log = LocalLog(str(directory))
    store = SQLiteStore(str(store_path))
    assert store.is_empty()
    started = time.perf_counter()
    report = restore(log, store, plan_restore(log), workers=workers, image=image)
    assert ("image copied" in report.image) == image, report.image
    store.close()
    seconds = time.perf_counter() - started
    return {
        "events": report.applied,
        "seconds": seconds,
        "rate": report.applied / seconds,
        "workers": workers,
        # The parent's peak, and the largest worker process's (the workers do the replay).
        "peak_rss_mb": max(peak_rss_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "store_mb": store_path.stat().st_size / 2**20,
    }


def phase(name: str, *args: str) -> dict:
    """Run one phase in a fresh process (its own peak RSS) and return what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.rehydrate", "--phase", name, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"phase {name} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--rounds", type=int, default=3, help="alternating floor/rehydrate rounds (medians kept)")
    parser.add_argument("--phase", choices=["snapshot", "floor", "rehydrate"])
    parser.add_argument("--dir")
    parser.add_argument("--store")
    parser.add_argument("--workers", type=int, default=0, help="restore processes (default: as manage.py rehydrate)")
    parser.add_argument("--no-image", action="store_true", help="replay the snapshot's events (rehydrate --no-image)")
    args = parser.parse_args()
    if args.phase:
        setup_django(tempfile.mkdtemp(prefix="utakata-bench-"))
        directory = Path(args.dir)
        if args.phase == "snapshot":
            result = make_snapshot_of(directory, args.events)
        elif args.phase == "floor":
            result = floor(directory)
        else:
            from board.lifecycle.rehydrate import default_workers

            result = rehydrate(directory, Path(args.store), args.workers or default_workers(), not args.no_image)
        print(json.dumps(result))
        return 0

    from bench.common import note, report

    with tempfile.TemporaryDirectory(prefix="utakata-bench-rehydrate-") as scratch:
        big, small = Path(scratch, "log"), Path(scratch, "log-small")
        made = phase("snapshot", "--dir", str(big), "--events", str(args.events))
        note(
            f"generated {made['events']:,} events in {made['segments']} hourly segments in {made['generate_s']:.0f}s; "
            f"snapshot {made['bytes'] / 2**20:.0f} MB and its image ({made['image_objects']:,} objects, "
            f"{made['image_mb']:.0f} MB) built in {made['snapshot_s']:.0f}s "
            f"({made['events'] / made['snapshot_s']:,.0f} events/s, {made['redacted']} deleted posts redacted, "
            f"peak RSS {made['peak_rss_mb']:.0f} MB)"
        )
        # Alternate the floor and the restore in rounds, so both see the same machine load
        # (a shared two-core box drifts), and keep the medians.
        floors, restores = [], []
        for round_ in range(args.rounds):
            floors.append(phase("floor", "--dir", str(big)))
            store = str(Path(scratch, f"store-{round_}.sqlite3"))
            restores.append(phase("rehydrate", "--dir", str(big), "--store", store))
            Path(store).unlink()
        replay = phase("rehydrate", "--dir", str(big), "--store", str(Path(scratch, "replay.sqlite3")), "--no-image")
        base = statistics.median(run["rate"] for run in floors)
        restored = sorted(restores, key=lambda run: run["rate"])[len(restores) // 2]
        floor_rates = ", ".join(f"{run['rate']:,.0f}" for run in floors)
        restore_times = ", ".join(f"{run['seconds']:.1f}s" for run in restores)
        note(
            f"floor (read + decode, nothing applied, one process): {floor_rates} events/s, peak RSS "
            f"{max(run['peak_rss_mb'] for run in floors):.0f} MB"
        )
        note(
            f"rehydrate (the image copied): {restore_times} for {restored['events']:,} events into a "
            f"{restored['store_mb']:.0f} MB SQLite store, peak RSS {restored['peak_rss_mb']:.0f} MB"
        )
        note(
            f"replay (--no-image) with {replay['workers']} processes: {replay['seconds']:.1f}s, peak RSS "
            f"{replay['peak_rss_mb']:.0f} MB per process"
        )
        report("rehydrate_replay", replay["rate"], base)
        ratio = report("rehydrate", restored["rate"], base)
        part = max(args.events * 4 // 10, 1000)
        phase("snapshot", "--dir", str(small), "--events", str(part))
        small_replay = phase(
            "rehydrate", "--dir", str(small), "--store", str(Path(scratch, "small.sqlite3")), "--no-image"
        )
        note(
            f"memory: peak RSS {small_replay['peak_rss_mb']:.0f} MB replaying {part:,} events, "
            f"{replay['peak_rss_mb']:.0f} MB replaying {replay['events']:,} (per process; flat once the replay "
            f"cache is full)"
        )
        note(
            f"goal: >= 30,000 events/s ({restored['rate']:,.0f}) and within 3x of the floor "
            f"(ratio {ratio:.3f} >= 0.333)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
