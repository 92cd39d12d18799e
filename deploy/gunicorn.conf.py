"""gunicorn settings; every value can be overridden from the environment."""

import os

from board.lib.env import envbool, envint

bind = os.environ.get("UTAKATA_BIND", "0.0.0.0:8000")
workers = envint("UTAKATA_WEB_WORKERS", 2)
threads = envint("UTAKATA_WEB_THREADS", 4)
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
accesslog = "-" if envbool("UTAKATA_ACCESS_LOG", "1") else None
# Each forked worker opens its own log and store clients (see BackendHandler):
# sockets and SQLite handles must not be shared across fork.
preload_app = False
# gunicorn's runtime control socket defaults to one path per user, shared by
# every gunicorn on the machine; nothing here uses it.
control_socket_disable = True
