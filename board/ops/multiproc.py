"""Where the metrics of a container's processes meet, set up before prometheus-client is imported.

prometheus-client chooses between in-memory values and per-process files
when it is first imported, by PROMETHEUS_MULTIPROC_DIR; so settings (loaded
first by every Django process) and gunicorn's config call ``prepare`` before
anything imports board.ops.metrics. The folder is emptied by
deploy/entrypoint.sh as a container starts (files of a previous run's
processes would be added to this one's); each container, or each service of
``make run``, needs its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ENV = "PROMETHEUS_MULTIPROC_DIR"


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` (or ``:port``, every address) as (host, port); ValueError otherwise."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{addr!r} is not host:port (e.g. 127.0.0.1:9100 or :9100)")
    return (host.strip("[]") or "0.0.0.0"), int(port)


def prepare(addr: str, default_dir: Path) -> None:
    """Check UTAKATA_METRICS_ADDR; when metrics are served, make sure the processes share a folder."""
    if addr:
        try:
            parse_addr(addr)
        except ValueError as exc:
            raise ImproperlyConfigured(f"UTAKATA_METRICS_ADDR: {exc}") from None
        os.environ.setdefault(ENV, str(default_dir))
    if os.environ.get(ENV):
        Path(os.environ[ENV]).mkdir(parents=True, exist_ok=True)
