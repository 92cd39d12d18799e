"""The durable log: the source of truth. ``get_log()`` returns the configured backend."""

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
    "get_log",
    "handler",
]
