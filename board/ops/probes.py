"""/healthz and /readyz: probes for compose and Kubernetes.

``/healthz`` says the process answers, nothing more: restart me only if this
fails. ``/readyz`` fails (503) only when this node cannot serve reads from its
store, the one thing a reader needs. Everything else is reported by name,
each with its state and latency, and makes the answer "degraded" while it
stays 200: an outage of a part every node shares (the log, Redis) must never
take every web node out of service at once, when they can all still serve
what the store holds.

* store: one read by key (the board index);
* log: one cheap read (a HEAD of ``snapshots/LATEST``), never a write, plus
  how this process's latest commits went (board/ops/metrics.py);
* cache: one read from Redis (or the local cache);
* jobs: the lifecycle tick's last look at the log, judged (board/lifecycle/state.py):
  "rollup late", "snapshot late", or the tick itself late.

Nothing private is in the answer: no address, endpoint, bucket, key or
exception message (they can name hosts), only states, kinds of error,
counts and ages.

The shared parts are asked at once, each in a thread of a small pool, and
whatever has not answered within UTAKATA_PROBE_TIMEOUT_SECONDS is reported
failing ("Timeout"): a log or Redis that swallows packets must not make the
probe itself time out, which would take the node out of service. The store is
read in the request's own thread (its client has its own timeouts): a node
whose store does not answer is rightly not ready.

The probes are answered by a middleware placed first, before the host check
(ALLOWED_HOSTS; a kubelet probes by the pod's address) and any HTTPS redirect
(a probe speaks plain HTTP to the container).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from board.lifecycle import keys as k
from board.lifecycle import state as logstate
from board.log import get_log
from board.ops import metrics
from board.readmodel import queries
from board.store import get_store

OK, DEGRADED, FAILING = "ok", "degraded", "failing"
# A commit that failed this recently, with none succeeding since, marks the log failing.
COMMIT_MEMORY = 300.0


def timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """Run one check: its state ("ok" unless it says otherwise, "failing" if it raised) and latency."""
    started = time.monotonic()
    try:
        result = {"state": OK, **(check() or {})}
    except Exception as exc:
        metrics.count_error("probe", exc)
        result = {"state": FAILING, "error": type(exc).__name__}
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_store() -> None:
    queries.board_index(get_store())


def check_log() -> dict[str, Any] | None:
    get_log().exists(k.LATEST)
    last = metrics.last_commits()
    failed, succeeded = last.get("failed"), last.get("succeeded")
    if failed and failed[0] > (succeeded or 0) and time.time() - failed[0] < COMMIT_MEMORY:
        return {
            "state": FAILING,
            "detail": f"the last commit here failed {time.time() - failed[0]:.0f}s ago",
            "error": failed[1],
        }
    if succeeded:
        return {"detail": f"last commit here {time.time() - succeeded:.0f}s ago"}
    return None


def check_cache() -> None:
    cache.get("utakata:probe")


def check_jobs() -> dict[str, Any]:
    findings = logstate.judge(logstate.recorded(), datetime.now(UTC))
    late = [f.name for f in findings if f.late]
    out: dict[str, Any] = {f.name: {"late": f.late, "detail": f.detail} for f in findings}
    if late:
        out["state"] = "late"
        out["detail"] = ", ".join(f"{name} late" for name in late)
    return out


_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="utakata-probe")


def readiness() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of /readyz: 503 only when the store cannot be read."""
    deadline = time.monotonic() + settings.PROBE_TIMEOUT_SECONDS
    shared = {"log": check_log, "cache": check_cache, "jobs": check_jobs}
    asked = {name: _pool.submit(timed, check) for name, check in shared.items()}
    checks = {"store": timed(check_store)}
    for name, future in asked.items():
        try:
            checks[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            checks[name] = {"state": FAILING, "error": "Timeout", "latency_ms": settings.PROBE_TIMEOUT_SECONDS * 1000}
    if checks["store"]["state"] != OK:
        status = "unready"
    elif any(check["state"] != OK for check in checks.values()):
        status = DEGRADED
    else:
        status = "ready"
    return (503 if status == "unready" else 200), {"status": status, "checks": checks}


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


class ProbeMiddleware:
    """Answers GET /healthz and /readyz before anything else looks at the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return _json(200, {"status": "alive"})
        if request.path == "/readyz" and request.method in ("GET", "HEAD"):
            return _json(*readiness())
        return self.get_response(request)
