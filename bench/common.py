"""What every benchmark shares: a bounded loop on a few threads, timed, and the ratio line."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from board.boards import UNLIMITED

Op = Callable[[], object]


def rate(make_op: Callable[[], Op], total: int, threads: int = 4) -> float:
    """Run total operations split over threads; return operations per second.

    Each thread first calls make_op() (untimed: open a session, make a
    client, ...) and then calls the op it got its share of total times. The
    clock runs from the moment every thread is ready to the last one done. An
    exception in any thread is raised here, after the others finished.
    """
    shares = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    ready = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run(share: int) -> None:
        try:
            op = make_op()
        except BaseException as exc:
            errors.append(exc)
            ready.abort()  # nobody waits for a thread that will never be ready
            return
        try:
            ready.wait()
            for _ in range(share):
                op()
        except threading.BrokenBarrierError:
            return  # another thread failed to get ready: its error is reported
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(share,), daemon=True) for share in shares]
    for worker in workers:
        worker.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return total / elapsed


def compare(
    make_op: Callable[[], Op],
    make_baseline: Callable[[], Op],
    total: int,
    baseline_total: int,
    threads: int = 4,
    rounds: int = 5,
) -> tuple[float, float]:
    """(ops/s, baseline ops/s): medians over rounds that alternate the two, after one warm-up each.

    Alternating in small rounds puts both figures under the same machine load,
    which drifts on a shared box; the median drops the odd round out.
    """
    ops, base = compare_many([make_op, make_baseline], [total, baseline_total], threads, rounds)
    return ops, base


def compare_many(
    makers: Sequence[Callable[[], Op]], totals: Sequence[int], threads: int = 4, rounds: int = 5
) -> list[float]:
    """Ops/s of each op maker: medians over rounds that run each in turn, after one warm-up each.

    totals[i] operations of makers[i] are spread over the rounds. Taking every
    op in turn in each round (rather than one after the other) is what lets a
    row of a growth table be compared cell by cell on a drifting machine.
    """
    for make_op, total in zip(makers, totals, strict=True):
        rate(make_op, max(threads, total // rounds // 2), threads)
    runs: list[list[float]] = [[] for _ in makers]
    for _ in range(rounds):
        for i, (make_op, total) in enumerate(zip(makers, totals, strict=True)):
            runs[i].append(rate(make_op, max(threads, total // rounds), threads))
    return [statistics.median(r) for r in runs]


def report(name: str, ops: float, baseline: float, unit: str = "ops/s") -> float:
    """Print the figure as ``name: X ops/s, baseline Y ops/s, ratio Z`` and return the ratio."""
    ratio = ops / baseline
    print(f"{name}: {ops:.1f} {unit}, baseline {baseline:.1f} {unit}, ratio {ratio:.3f}", flush=True)
    return ratio


def note(text: str) -> None:
    """A line of context (what was measured, on what), set apart from the figures."""
    print(f"# {text}", flush=True)


def seed_thread(env: dict[str, str], res: int, subject: str) -> str:
    """Create /test/ and a thread of ``res`` varied posts in this process; return the thread key.

    Posts are applied here, not by a worker: the benchmarks measure serving.
    """
    import logging
    import os

    os.environ.update(env)
    os.environ["CELERY_BROKER_URL"] = "memory://"  # fan-out goes nowhere: apply is done here
    import django

    django.setup()
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # memory:// has no hostname, and says so
    from board.events import EventType, new_event
    from board.posting.commit import commit, submit
    from board.posting.validation import Submission
    from board.readmodel.projection import apply
    from board.store import get_store

    store = get_store()
    apply(store, commit(new_event(EventType.BOARD_CREATED, "test", payload={"title": "ベンチ板", **UNLIMITED})))
    first = submit("test", None, Submission(subject=subject, body="スレ立て"), "192.0.2.1")
    apply(store, first.event)
    for n in range(2, res + 1):
        body = f">>{n - 1} レス{n}\n二行目 http://example.com/{n} <&>\n" + "あいうえお♥" * (n % 7)
        name = f"名無し{n % 5}" + ("#trip" if n % 9 == 0 else "")
        posted = submit("test", first.thread, Submission(name=name, body=body), f"192.0.2.{n % 250}")
        apply(store, posted.event)
    return first.thread


def bench_env(data: str, **overrides: str) -> dict[str, str]:
    """The environment of a benchmark's server: production settings, embedded log and store under data."""
    from tests import services

    return services.project_env(
        UTAKATA_DATA_DIR=data,
        UTAKATA_DEBUG="0",
        UTAKATA_SECRET_KEY="bench",
        UTAKATA_LOG_LEVEL="WARNING",
        UTAKATA_LOG_URL=f"file://{data}/log",
        UTAKATA_STORE_URL=f"sqlite://{data}/store.sqlite3",
        **overrides,
    )


# --- HTTP loops -------------------------------------------------------------------------


def get_loop(
    url: str,
    status: int = 200,
    length: int | None = None,
    contains: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    """An op maker: one requests session per client thread, each op a GET checked for its answer.

    The body is checked as bytes (its length, or a piece it must hold): decoding
    half a megabyte per request would spend the client's share of the CPU.
    """
    import requests

    def make_op() -> Op:
        session = requests.Session()

        def op() -> None:
            response = session.get(url, headers=headers, timeout=60)
            body = response.content
            if (
                response.status_code != status
                or (length is not None and len(body) != length)
                or (contains is not None and contains not in body)
            ):
                raise RuntimeError(f"GET {url} {headers or ''}: HTTP {response.status_code}, {len(body)} bytes")

        return op

    return make_op


def same_bytes_url(base_url: str, size: int, kind: str = "html") -> str:
    """The bench view returning size bytes held in memory (bench/urls.py): text/html, or text/plain ("txt")."""
    return f"{base_url}/bench/bytes/{size}.{kind}"


def have_ab() -> bool:
    """Whether ab (apache2-utils) is installed: a C client, for figures the Python clients would cap."""
    import shutil

    return shutil.which("ab") is not None


def report_ab(figures: list[tuple[str, float, float]]) -> None:
    """Report each (name, ops/s, baseline ops/s) measured with ab, or say that ab is missing."""
    for name, ops, baseline in figures:
        report(name, ops, baseline)
    if not figures:
        note("the *_ab lines need ab: apt-get install apache2-utils")


def ab_rate(url: str, total: int, headers: dict[str, str] | None = None, status_2xx: bool = True) -> float:
    """Requests/s ``ab -k -c 8`` measures for total GETs of url; every answer must be alike (and 2xx unless not).

    The Python clients of ``rate`` share this 2-core machine with the server and
    spend about as much CPU per request as a light view does, which squeezes
    ratios towards 1; ab spends far less.
    """
    import re
    import subprocess

    argv = ["ab", "-q", "-k", "-n", str(total), "-c", "8"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=True)
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", done.stdout)
    wrong = bool(non2xx) if status_2xx else not non2xx or int(non2xx.group(1)) != total
    if (failed and int(failed.group(1))) or wrong:
        raise RuntimeError(f"ab {url}: not every answer was the expected one:\n{done.stdout}")
    found = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    assert found is not None, done.stdout
    return float(found.group(1))


def ab_compare(
    op: tuple[str, dict[str, str], bool], baseline: tuple[str, dict[str, str], bool], total: int, rounds: int = 5
) -> tuple[float, float]:
    """Like compare, with ab: (url, headers, expect 2xx) each; medians of alternating rounds after a warm-up."""
    ab_rate(op[0], max(100, total // 10), op[1], op[2])
    ab_rate(baseline[0], max(100, total // 10), baseline[1], baseline[2])
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(ab_rate(op[0], total, op[1], op[2]))
        theirs.append(ab_rate(baseline[0], total, baseline[1], baseline[2]))
    return statistics.median(ours), statistics.median(theirs)


IDENTITY = {"Accept-Encoding": "identity"}  # the bytes as stored: no gzip on either side of a same-bytes comparison


# --- memory of server processes -----------------------------------------------------------


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now), VmHWM (peak), RssAnon and RssFile of a process, in MB, from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        field, _, value = line.partition(":")
        if field in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[field] = int(value.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process and its descendants have used, from /proc (Linux)."""
    total = 0.0
    for process in [pid, *descendants(pid)]:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    """Every process whose parent chain leads to pid."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
            parents.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listening_pid(port: int) -> int | None:
    """The process whose command line names this port (a server the benchmark started), or None."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
            # redis-server sets its title to "redis-server 127.0.0.1:<port>"
            named = any(arg == str(port) or arg.endswith(f":{port}") for arg in argv)
            if named and int(cmdline.parent.name) != os.getpid():
                return int(cmdline.parent.name)
    return None


def cpu_per_op(make_op: Callable[[], Op], total: int, pids: dict[str, int], threads: int = 4) -> dict[str, float]:
    """Milliseconds of CPU an operation costs each named process (and "clients", this one), over total ops.

    The ops are made first (a boto3 client costs 50 ms of CPU to make), outside the reckoning.
    """
    ready = [make_op() for _ in range(threads)]
    lock = threading.Lock()

    def made() -> Op:
        with lock:
            return ready.pop()

    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    mine = time.process_time()
    rate(made, total, threads)
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    spent["clients"] = time.process_time() - mine
    return {name: seconds * 1000 / total for name, seconds in spent.items()}


# --- seeding the store directly -----------------------------------------------------------

SEED_NAMES = ["名無しさん"] * 6 + ["コテハン ◆Ab3dEf9hJk"]


def reply_payload(n: int) -> dict[str, str]:
    """A varied post like seed_thread's: an anchor, a link, markup to escape, a trip now and then."""
    body = f">>{max(n - 1, 1)} レス{n}\n二行目 http://example.com/{n} <&>\n" + "あいうえお♥" * (n % 7)
    name = SEED_NAMES[n % len(SEED_NAMES)]
    return {"name": name, "mail": "sage" if n % 4 == 0 else "", "body": body, "id": f"{n:08x}"}


def thread_events(board: str, key: int, res: int, title: str) -> Iterator:
    """The events of a thread of res posts created at second key, its replies a millisecond apart."""
    from board.events import EventType, new_event

    at = datetime.fromtimestamp(key, UTC)
    yield new_event(EventType.THREAD_CREATED, board, str(key), 1, reply_payload(1) | {"subject": title}, at=at)
    for n in range(2, res + 1):
        yield new_event(EventType.POST_CREATED, board, str(key), n, reply_payload(n), at=at + timedelta(milliseconds=n))


def board_events(board: str, threads: int, cap: int, first_key: int, res: Callable[[int], int]) -> Iterator:
    """A board's life: threads created one a second (res(i) posts each), the oldest falling off past cap.

    Nobody bumps an old thread here, so the least recently bumped (the one
    archive_overflow drops) is the oldest; each fall is a ThreadArchived
    a moment after the thread that pushed it out.
    """
    from collections import deque

    from board.events import EventType, new_event

    at = datetime.fromtimestamp(first_key - 1, UTC)
    settings = {"title": "ベンチ板", **UNLIMITED, "thread_cap": cap}
    yield new_event(EventType.BOARD_CREATED, board, payload=settings, at=at)
    live: deque[int] = deque()
    for i in range(threads):
        key = first_key + i
        yield from thread_events(board, key, res(i), f"スレ{i} ベンチマーク")
        live.append(key)
        if len(live) > cap:
            fallen = live.popleft()
            at = datetime.fromtimestamp(key, UTC) + timedelta(milliseconds=999)
            yield new_event(EventType.THREAD_ARCHIVED, board, str(fallen), at=at)


def apply_events(store, events, max_objects: int = 10_000_000) -> int:
    """Fold events into the store with rehydrate's BatchApplier; return how many.

    The cache is unbounded by default (the seeds here fit in memory): with
    rehydrate's bounded cache, a board whose threads fall into the archive
    comes out with archived threads listed live again (a thread evicted while
    live, archived later, and written out at the final flush after its
    tombstone's TOMBSTONE_MS: the held list's stale live entry wins), so
    subject.txt and the board top would be measured on a wrong live list.
    """
    from board.readmodel.batch import BatchApplier

    with BatchApplier(store, max_objects=max_objects) as applier:
        for event in events:
            applier.add(event)
    return applier.applied
