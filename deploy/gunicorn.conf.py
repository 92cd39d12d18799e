"""gunicorn settings; every value can be overridden from the environment."""

import os
from pathlib import Path

from board.lib.env import envbool, envint
from board.ops import webworkers
from board.ops.multiproc import prepare

# Prometheus metrics (board/ops/metrics.py): the workers write to a shared folder, set up
# here before they fork, and the master serves them on a port of their own.
METRICS_ADDR = os.environ.get("UTAKATA_METRICS_ADDR", "")
prepare(
    METRICS_ADDR, Path(os.environ.get("UTAKATA_DATA_DIR", Path(__file__).resolve().parent.parent / "var")) / "metrics"
)

bind = os.environ.get("UTAKATA_BIND", "0.0.0.0:8000")
workers = envint("UTAKATA_WEB_WORKERS", 2)
threads = envint("UTAKATA_WEB_THREADS", 4)
worker_class = "gthread"
# Each worker on a listening socket of its own, and on a CPU of its own if asked (board/ops/webworkers.py).
reuse_port = webworkers.sockets_of_their_own([bind])
CPU_AFFINITY = envbool("UTAKATA_WEB_CPU_AFFINITY", "0")
timeout = 30
graceful_timeout = 20
# Seconds an idle kept-alive connection stays open. A server closing one races the
# next request its client sends on it, which then fails unanswered; a POST is not
# retried, so the poster is told nothing (gunicorn's default of 2 s did this to a
# burst of replies). Longer than the proxy keeps an idle upstream connection
# (deploy/nginx.conf's keepalive_timeout 60s; a load balancer's idle timeout,
# 60 s on AWS's), the proxy is always the one that closes.
keepalive = envint("UTAKATA_WEB_KEEPALIVE", 75)
accesslog = "-" if envbool("UTAKATA_ACCESS_LOG", "1") else None
# No client address, Referer or User-Agent by default: with them, a log line and a
# post's time can be joined to tie a post to its address, which the board never keeps
# (README, Security). UTAKATA_ACCESS_LOG_ADDRESSES=1 adds them, for an operator
# who accepts keeping that (and must then expire the log).
if envbool("UTAKATA_ACCESS_LOG_ADDRESSES", "0"):
    access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
else:
    access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'
# gunicorn's own lines (its errors, the access log) as the board's: JSON lines in containers.
if os.environ.get("UTAKATA_LOG_FORMAT", "text") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "board.ops.logformat.JsonFormatter"}},
        "handlers": {
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
# Each forked worker opens its own log and store clients (see BackendHandler):
# sockets and SQLite handles must not be shared across fork.
preload_app = False
# gunicorn's runtime control socket defaults to one path per user, shared by
# every gunicorn on the machine; nothing here uses it.
control_socket_disable = True


def on_starting(server) -> None:
    if server.cfg.reuse_port:
        if not webworkers.sockets_of_their_own(server.cfg.bind):
            raise RuntimeError("a Unix socket or a file descriptor is bound through UTAKATA_BIND, not --bind")
        webworkers.refuse_taken(server.cfg.address)


def pre_fork(server, worker) -> None:
    if CPU_AFFINITY:
        taken = (getattr(w, "cpu", None) for w in server.WORKERS.values())
        worker.cpu = webworkers.choose(webworkers.allowed_cpus(), taken)


def post_fork(server, worker) -> None:
    if getattr(worker, "cpu", None) is not None:
        webworkers.pin(worker.cpu)
        server.log.info("Worker %s runs on CPU %s", worker.pid, worker.cpu)


def post_worker_init(worker) -> None:
    # Requests gunicorn refuses unread (bad header bytes, over its limits) get the board's pages, not English ones.
    from board.ops import refusals

    refusals.install()


def when_ready(server) -> None:
    if server.cfg.reuse_port:  # gunicorn's own "Listening at:" line is empty: only the workers listen
        server.log.info("Each worker listens on %s on a socket of its own", ", ".join(server.cfg.bind))
    if METRICS_ADDR:
        from board.ops.metrics import serve

        serve(METRICS_ADDR)


def child_exit(server, worker) -> None:
    from board.ops.metrics import process_exited

    process_exited(worker.pid)
