"""The soak's faults, injected on a schedule while the load runs.

In order, at fixed fractions of the run so that each meets a steady load:

1. a worker SIGKILLed: the whole Celery worker (its pool with it, mid-task
   if it had one) and one gunicorn worker; a new Celery worker is started at
   once, gunicorn's master forks a new web worker by itself;
2. Redis stopped and started again empty (cache, locks, the broker's queue
   and the numbering hints all gone);
3. S3 hung (every request read and never answered), then S3 failing fast
   (503 SlowDown to every request), through the fault proxy;
4. the store rebuilt while the board serves: ``manage.py rehydrate --replace``.

Each fault's window (start and end, in seconds since the run began) is kept
for the report: refusals are counted, and timed, per window.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from bench.soak.load import Ledger
from tests import processes
from tests.fault_proxy import FaultProxy
from tests.services import RedisServer


@dataclass
class Window:
    name: str
    start: float
    end: float


@dataclass
class Plan:
    duration: float
    outage: float  # seconds S3 hangs, and then fails fast
    redis_down: float  # seconds Redis stays down before it starts again, empty

    def times(self) -> dict[str, float]:
        """When each fault begins, in seconds since the run began."""
        s3 = 0.35 * self.duration
        rebuild = max(0.7 * self.duration, s3 + 2 * self.outage + 5)
        return {"worker": 0.1 * self.duration, "redis": 0.2 * self.duration, "s3": s3, "rebuild": rebuild}

    def check(self) -> None:
        """Raise ValueError when the faults do not fit in the run."""
        if self.duration <= 0 or self.outage <= 0 or self.redis_down < 0:
            raise ValueError("the duration and the outage must be positive, Redis's downtime not negative")
        if self.times()["rebuild"] > 0.85 * self.duration:
            raise ValueError(
                f"a {self.outage:g} s outage (hang, then fail) does not fit in a {self.duration:g} s run: "
                f"give at least {(2 * self.outage + 5) / 0.5:.0f} s, or a shorter outage"
            )


class Faults(threading.Thread):
    """Runs the plan against the board's processes; ``windows`` tells when each fault was on."""

    def __init__(
        self,
        plan: Plan,
        ledger: Ledger,
        env: dict[str, str],
        web: processes.WebServer,
        redis: RedisServer,
        proxy: FaultProxy,
        log_dir: str,
    ) -> None:
        super().__init__(name="faults", daemon=True)
        self.plan = plan
        self.ledger = ledger
        self.env = env
        self.web = web
        self.redis = redis
        self.proxy = proxy
        self.log_dir = log_dir
        self.worker = self.start_worker()
        self.scheduled = threading.Event()  # set when every fault was injected
        self.finish = threading.Event()  # set when the load ended: stop watching the worker
        self.windows: list[Window] = []
        self.notes: list[str] = []
        self.error: BaseException | None = None

    def start_worker(self) -> processes.Service:
        return processes.start_celery_worker(self.env, concurrency=2, log_dir=self.log_dir)

    def run(self) -> None:
        try:
            times = self.plan.times()
            self.at(times["worker"], "worker SIGKILL", self.kill_workers)
            self.at(times["redis"], "Redis restarted empty", self.restart_redis)
            self.at(times["s3"], "S3 hangs", lambda: self.s3("hang"))
            self.at(self.ledger.now(), "S3 fails fast (503)", lambda: self.s3("fail"))
            self.at(times["rebuild"], "store rebuilt (rehydrate --replace)", self.rebuild)
            self.scheduled.set()
            while not self.finish.wait(0.5):
                self.supervise()
        except BaseException as exc:
            self.error = exc
        finally:
            self.proxy.mode = "pass"

    def at(self, when: float, name: str, action) -> None:
        while self.ledger.now() < when:
            self.supervise()
            time.sleep(min(0.5, max(0.0, when - self.ledger.now())))
        start = self.ledger.now()
        action()
        self.windows.append(Window(name, start, self.ledger.now()))

    def supervise(self) -> None:
        """Start the Celery worker again if it exited by itself, as compose's ``restart: unless-stopped`` does."""
        if self.worker.alive():
            return
        output = self.worker.output().splitlines()
        lines = [line for line in output if "CRITICAL" in line] or [line for line in output if "Error" in line]
        self.notes.append(
            f"t={self.ledger.now():.0f} s: the Celery worker exited by itself ({self.worker.proc.returncode}; "
            f"{lines[0][:160] if lines else 'no error logged'}), started again; log {self.worker.log_path}"
        )
        self.worker = self.start_worker()

    def kill_workers(self) -> None:
        old = self.worker
        old.kill()
        web_worker = self.web.worker_pids()[0]
        with contextlib.suppress(ProcessLookupError):
            os.kill(web_worker, signal.SIGKILL)
        self.worker = self.start_worker()
        self.notes.append(f"Celery worker {old.pid} and gunicorn worker {web_worker} SIGKILLed")

    def restart_redis(self) -> None:
        self.redis.stop()
        time.sleep(self.plan.redis_down)
        self.redis.start()

    def s3(self, mode: str) -> None:
        self.proxy.mode = mode
        time.sleep(self.plan.outage)
        self.proxy.mode = "pass"

    def rebuild(self) -> None:
        started = time.monotonic()
        done = processes.manage(self.env, "rehydrate", "--replace", "--no-progress", timeout=600)
        switched = [line for line in done.stdout.splitlines() if line.startswith("switched")]
        self.notes.append(f"rehydrate --replace took {time.monotonic() - started:.1f} s; " + " ".join(switched))

    def reconcile(self, timeout: float = 120.0) -> str:
        """Run the periodic reconcile once now (as beat would) and return its report line."""
        called = subprocess.run(
            [str(processes.BIN / "celery"), "-A", "boards_site", "call", "utakata.lifecycle.reconcile"],
            env=self.env,
            cwd=processes.ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        self.supervise()
        task = called.stdout.strip()
        self.worker.wait_for_output(f"{task}] succeeded", timeout)
        lines = [line for line in self.worker.output().splitlines() if "reconcile: " in line and "incoming" in line]
        return lines[-1].split("reconcile: ", 1)[1] if lines else "(no report line)"
