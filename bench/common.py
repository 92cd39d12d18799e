"""What every benchmark shares: a bounded loop on a few threads, timed, and the ratio line."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable

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
    rate(make_op, max(threads, total // rounds // 2), threads)
    rate(make_baseline, max(threads, baseline_total // rounds // 2), threads)
    ops, base = [], []
    for _ in range(rounds):
        ops.append(rate(make_op, max(threads, total // rounds), threads))
        base.append(rate(make_baseline, max(threads, baseline_total // rounds), threads))
    return statistics.median(ops), statistics.median(base)


def report(name: str, ops: float, baseline: float) -> float:
    """Print the figure as ``name: X ops/s, baseline Y ops/s, ratio Z`` and return the ratio."""
    ratio = ops / baseline
    print(f"{name}: {ops:.1f} ops/s, baseline {baseline:.1f} ops/s, ratio {ratio:.3f}", flush=True)
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
    apply(store, commit(new_event(EventType.BOARD_CREATED, "test", payload={"title": "ベンチ板", "cooldown": 0})))
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
