"""The durable log: the source of truth. ``get_log()`` returns the configured backend."""

import logging

from board.lib.backends import BackendHandler
from board.log.base import (
    AlreadyExists,
    Archived,
    BaseLog,
    LogError,
    LogUnavailable,
    NotFound,
    ObjectInfo,
    UnsafeLog,
)

SCHEMES = {
    "file": "board.log.local.LocalLog",
    "s3": "board.log.s3.S3Log",
    "memory": "board.log.memory.MemoryLog",
}

# One log per process, shared by its threads (log backends are thread-safe): one
# boto3 client and connection pool per process rather than per gunicorn thread.
handler = BackendHandler("UTAKATA_LOG", shared=True)


def get_log() -> BaseLog:
    """The log backend settings.UTAKATA_LOG names (one instance per process)."""
    return handler.get()


def check_at_start() -> None:
    """Refuse to start a writing process (web, worker) on a log that would let one post overwrite another.

    Raises UnsafeLog. A log that cannot be reached now is only warned about:
    the first write probes again, and a process should not fail to start on
    a moment's outage.
    """
    try:
        get_log().check_conditional_writes()
    except UnsafeLog:
        raise
    except LogError as exc:
        logging.getLogger(__name__).warning("the log could not be probed at start (%s); the first write will", exc)


__all__ = [
    "SCHEMES",
    "AlreadyExists",
    "Archived",
    "BaseLog",
    "LogError",
    "LogUnavailable",
    "NotFound",
    "ObjectInfo",
    "UnsafeLog",
    "check_at_start",
    "get_log",
    "handler",
]
