"""verifylog: compare the store with what the log says it should hold, and repair the drift.

The expected read model is rebuilt from the log (the same plan and replay as
rehydrate) into a scratch SQLite file, then walked object by object; each
object is fetched from the real store by key, as Riak allows (a store cannot
be listed, so an object the log knows nothing about is only seen where a
list refers to it: a board in the board index, a thread in a board's list).

Repair first joins the expected object into the stored one, which fixes what
the store lacks (lost fan-out) without ever losing a concurrent write; where
the store holds what the log does not (it is ahead of, or other than, the
log), the object is overwritten with the expected one. Events committed while
verifylog ran are then applied again, so an overwrite loses nothing.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from board.lifecycle.follow import Follower
from board.lifecycle.plan import plan_restore
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.rehydrate import default_workers, restore
from board.log import BaseLog
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import join_into, merger
from board.store import BaseStore
from board.store.sqlite import SQLiteStore

THREAD_FIELDS = ("title", "count", "bumped", "updated", "state", "created")


@dataclass
class Drift:
    board: str
    thread: str | None
    what: str

    @property
    def where(self) -> str:
        return f"/{self.board}/" if self.thread is None else f"/{self.board}/{self.thread}"


@dataclass
class VerifyReport:
    events: int = 0
    objects: int = 0
    drift: list[Drift] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    caught_up: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"checked {self.objects} object(s) against {self.events} event(s) in {self.seconds:.1f}s"]
        by_place: dict[str, list[str]] = defaultdict(list)
        for drift in self.drift:
            by_place[drift.where].append(drift.what)
        for where in sorted(by_place):
            out.append(f"{where}: " + "; ".join(by_place[where]))
        if self.joined or self.overwritten:
            out.append(
                f"repaired: {len(self.joined)} object(s) completed from the log, "
                f"{len(self.overwritten)} overwritten, {self.caught_up} event(s) committed meanwhile re-applied"
            )
        return out


def verify_store(
    log: BaseLog, store: BaseStore, repair: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Rebuild the expected state from the log, compare the store with it, and repair if asked."""
    started = time.monotonic()
    progress = progress or quiet("verifylog")
    report = VerifyReport()
    with tempfile.TemporaryDirectory(prefix="utakata-verify-") as scratch:
        path = str(Path(scratch) / "expected.sqlite3")
        expected = SQLiteStore(path)
        plan = plan_restore(log)
        progress.phase("replaying the log into a scratch store")
        # The events, not the snapshot's image: that is made from them, and checked here too.
        replayed = restore(
            log,
            expected,
            plan,
            progress=lambda n: progress.add("event(s) replayed", n),
            workers=default_workers(),
            image=False,
        )
        progress.phase("comparing the store with it")
        report.events = replayed.applied
        for bucket, key, (value,) in expected.items():
            if bucket not in o.JOINS:  # bookkeeping (the restore mark), not board state
                continue
            report.objects += 1
            progress.add("object(s) compared")
            current = store.get(bucket, key, merger(bucket, key))
            found = compare(bucket, key, value, current)
            if not found:
                continue
            report.drift += found
            if repair:
                _repair(store, bucket, key, value, report)
        expected.close()
        if repair and (report.joined or report.overwritten):
            report.caught_up = Follower(log, store, plan, replayed).step()
    report.seconds = time.monotonic() - started
    return report


def _repair(store: BaseStore, bucket: str, key: str, value: bytes, report: VerifyReport) -> None:
    state = e.loads(value)
    assert state is not None
    merge = merger(bucket, key)
    joined = store.update(bucket, key, lambda current: join_into(bucket, key, current, state), merge)
    if not compare(bucket, key, value, joined):
        report.joined.append(f"{bucket}/{key}")
        return
    store.update(bucket, key, lambda current: value, merge)
    report.overwritten.append(f"{bucket}/{key}")


# --- comparing ------------------------------------------------------------------------


def compare(bucket: str, key: str, expected: bytes, actual: bytes | None) -> list[Drift]:
    """What differs between the expected and the stored object, said per board and thread."""
    if actual == expected:
        return []
    want = e.loads(expected)
    assert want is not None
    board, _, rest = key.partition("/")
    thread = None
    if bucket == o.POSTS:
        board, thread, _ = o.split_posts_key(key)
    elif bucket == o.THREAD:
        thread = rest
    if actual is None:
        return [Drift(board if bucket != o.INDEX else "*", thread, f"{_label(bucket, key)} missing from the store")]
    have = e.loads(actual)
    assert have is not None
    if bucket == o.THREADS:
        return _threads(board, want["threads"], have.get("threads", {}))
    if bucket == o.POSTS:
        return _posts(board, thread, want, have)
    if bucket == o.INDEX:
        return _index(want["boards"], have.get("boards", {}))
    if want == have:
        return [Drift(board, thread, f"{_label(bucket, key)}: stored bytes differ (state is equal)")]
    return [Drift(board, thread, f"{_label(bucket, key)} differs")]


def _label(bucket: str, key: str) -> str:
    return {
        o.BOARDS: "board settings",
        o.INDEX: "board index",
        o.THREADS: "live thread list",
        o.THREAD: "thread object",
        o.POSTS: f"posts page {key.rsplit('/', 1)[-1]}",
        o.ARCHIVE: f"archive window {key.rsplit('/', 1)[-1]}",
        o.KAKO: "archive index",
        o.BANS: f"bans of {key.rsplit('/', 1)[-1]}",
    }.get(bucket, f"{bucket} object")


def _index(want: dict[str, Any], have: dict[str, Any]) -> list[Drift]:
    drift = [Drift(name, None, "missing from the board index") for name in sorted(set(want) - set(have))]
    drift += [Drift(name, None, "in the board index but not in the log") for name in sorted(set(have) - set(want))]
    drift += [
        Drift(name, None, "board index entry differs")
        for name in sorted(set(want) & set(have))
        if want[name] != have[name]
    ]
    return drift


def _threads(board: str, want: dict[str, Any], have: dict[str, Any]) -> list[Drift]:
    drift = [Drift(board, key, "thread missing from the board's list") for key in sorted(set(want) - set(have))]
    drift += [
        Drift(board, key, "thread in the board's list but not in the log") for key in sorted(set(have) - set(want))
    ]
    for key in sorted(set(want) & set(have)):
        fields = [
            f"{name} {have[key].get(name)!r} in the store, {want[key].get(name)!r} in the log"
            for name in THREAD_FIELDS
            if want[key].get(name) != have[key].get(name)
        ]
        if fields:
            drift.append(Drift(board, key, ", ".join(fields)))
    return drift


def _posts(board: str, thread: str, want: dict[str, Any], have: dict[str, Any]) -> list[Drift]:
    want_posts, have_posts = want["posts"], have.get("posts", {})
    drift = []
    missing = sorted(set(want_posts) - set(have_posts), key=int)
    extra = sorted(set(have_posts) - set(want_posts), key=int)
    deleted = [
        n
        for n in sorted(set(want_posts) & set(have_posts), key=int)
        if want_posts[n].get("deleted") and not have_posts[n].get("deleted")
    ]
    differ = [
        n
        for n in sorted(set(want_posts) & set(have_posts), key=int)
        if n not in deleted and want_posts[n] != have_posts[n]
    ]
    if missing:
        drift.append(Drift(board, thread, f"posts {_numbers(missing)} missing from the store"))
    if deleted:
        drift.append(Drift(board, thread, f"posts {_numbers(deleted)} deleted in the log but shown by the store"))
    if differ:
        drift.append(Drift(board, thread, f"posts {_numbers(differ)} differ"))
    if extra:
        drift.append(Drift(board, thread, f"posts {_numbers(extra)} in the store but not in the log"))
    rest = {name: value for name, value in want.items() if name != "posts"}
    if not drift and rest != {name: value for name, value in have.items() if name != "posts"}:
        drift.append(Drift(board, thread, "posts page header differs"))
    if not drift:
        drift.append(Drift(board, thread, "posts page: stored bytes differ (state is equal)"))
    return drift


def _numbers(numbers: list[str]) -> str:
    """1, 2, 3, 7 -> "1-3, 7": drift on a long thread stays one line."""
    runs: list[list[int]] = []
    for n in map(int, numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
