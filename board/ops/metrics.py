"""Prometheus metrics (prometheus-client), defined once here, named ``utakata_<thing>_<unit>``.

Multiprocess: gunicorn's workers and Celery's pool processes each write their
values to files in ``PROMETHEUS_MULTIPROC_DIR`` (set in settings when metrics
are served), and one server per container adds them up
(``MultiProcessCollector``). That server listens on UTAKATA_METRICS_ADDR, a
port of its own that an operator keeps private (not the board's port, not
behind its proxy): started by gunicorn's master (deploy/gunicorn.conf.py), by
a Celery worker's main process (boards_site/celery.py) and by rehydrate.
Without UTAKATA_METRICS_ADDR nothing is served and the values stay in memory.

Gauges say how they combine across processes: "mostrecent", what the last
process to set them saw (the backlog, a job's last success).
"""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

from board.ops.multiproc import parse_addr

logger = logging.getLogger(__name__)

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

POSTS_ACCEPTED = Counter("utakata_posts_accepted_total", "Posts written to the log and acknowledged", ["kind"])
POSTS_REFUSED = Counter(
    "utakata_posts_refused_total", "Posts refused, by reason (board/posting/refusals.py)", ["reason"]
)
COMMIT_SECONDS = Histogram("utakata_commit_seconds", "Time to commit one event to the log", buckets=LATENCY)
FANOUT_LAG = Histogram(
    "utakata_fanout_lag_seconds", "From an event's commit to its fan-out applying it to the store", buckets=LAG
)
RECONCILE_REAPPLIED = Counter("utakata_reconcile_reapplied_total", "Events reconcile applied that fan-out had missed")
JOB_SECONDS = Gauge(
    "utakata_job_duration_seconds", "How long the job's last run took", ["job"], multiprocess_mode="mostrecent"
)
JOB_LAST_SUCCESS = Gauge(
    "utakata_job_last_success_timestamp_seconds",
    "When the job last ended without failure (Unix time)",
    ["job"],
    multiprocess_mode="mostrecent",
)
JOB_OUTPUT_BYTES = Gauge(
    "utakata_job_output_bytes", "Size of what the job's last run wrote", ["job"], multiprocess_mode="mostrecent"
)
JOB_FAILURES = Counter("utakata_job_failures_total", "Job runs that failed or left work undone", ["job"])
BACKLOG = Gauge(
    "utakata_incoming_backlog_events", "Events in incoming/ not rolled up yet", multiprocess_mode="mostrecent"
)
BACKLOG_AGE = Gauge(
    "utakata_incoming_oldest_age_seconds",
    "How long the oldest event in incoming/ has waited",
    multiprocess_mode="mostrecent",
)
REHYDRATE_APPLIED = Counter("utakata_rehydrate_events_total", "Events a rehydrate has replayed into the store")
ERRORS = Counter(
    "utakata_errors_total", "Failures of the store or the log, by where and kind of error", ["part", "kind"]
)

_last_commits: dict[str, object] = {}


# --- what the board calls ---------------------------------------------------------------


def commit_done(seconds: float) -> None:
    COMMIT_SECONDS.observe(seconds)
    _last_commits["succeeded"] = time.time()


def commit_failed(exc: BaseException) -> None:
    count_error("log", exc)
    _last_commits["failed"] = (time.time(), type(exc).__name__)


def last_commits() -> dict:
    """This process's latest commit outcomes: {"succeeded": t, "failed": (t, kind)}, either missing."""
    return dict(_last_commits)


def count_error(part: str, exc: BaseException) -> None:
    """One failure of a part ("log", "store", "probe", ...), labelled by the error's class, never its message."""
    ERRORS.labels(part, type(exc).__name__).inc()


def job_done(job: str, seconds: float, ok: bool, output_bytes: int | None = None) -> None:
    JOB_SECONDS.labels(job).set(seconds)
    if ok:
        JOB_LAST_SUCCESS.labels(job).set(time.time())
    else:
        JOB_FAILURES.labels(job).inc()
    if output_bytes is not None:
        JOB_OUTPUT_BYTES.labels(job).set(output_bytes)


def backlog_seen(count: int, oldest_age: float | None) -> None:
    BACKLOG.set(count)
    BACKLOG_AGE.set(oldest_age or 0.0)


# --- serving ------------------------------------------------------------------------------


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multiprocess mode, else this process's values."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    from prometheus_client import REGISTRY

    return REGISTRY


def serve(addr: str) -> None:
    """Serve /metrics on addr from a thread of this process (gunicorn's master, a worker's main process)."""
    host, port = parse_addr(addr)
    try:
        start_http_server(port, addr=host, registry=registry())
    except OSError as exc:  # another process of this container serves them (or the port is taken)
        logger.error("metrics not served on %s:%d: %s", host, port, exc)
        return
    logger.info("metrics served on %s:%d", host, port)


def process_exited(pid: int) -> None:
    """Drop a dead process's live gauges (gunicorn child_exit, Celery pool process shutdown)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


class CountErrors:
    """Middleware: a request that failed on the store or the log counts in utakata_errors_total."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc: Exception) -> None:
        from board.log import LogError
        from board.store import StoreError

        if isinstance(exc, StoreError):
            count_error("store", exc)
        elif isinstance(exc, LogError):
            count_error("log", exc)
