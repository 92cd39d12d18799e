"""Log lines as JSON (containers) or text (a terminal): UTAKATA_LOG_FORMAT=json|text.

A JSON line holds time (UTC, ISO 8601), level, logger and message, and on
every line logged about an event (``with about(event):``, or ``extra=`` with
``event_id`` and ``board``) the event's id and board, so one post can be
followed from its commit through its fan-out in a log search. An exception's
traceback goes in ``exc``, on the same line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from board.events import Event

FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # UTAKATA_LOG_LEVEL's choices
_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("utakata_event", default=None)


@contextlib.contextmanager
def about(event: Event) -> Iterator[None]:
    """Lines logged in this block (this thread or task) carry the event's id and board."""
    token = _current.set((event.id, event.board))
    try:
        yield
    finally:
        _current.reset(token)


class EventFilter(logging.Filter):
    """Adds event_id and board to a record logged inside ``about`` (unless extra= gave them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _current.get()
        if current is not None and not hasattr(record, "event_id"):
            record.event_id, record.board = current
        return True


# What Django's security loggers report of a request the client got wrong (answered 400): a
# client may send as many as it likes, so each is one warning line, not an error with a traceback.
CLIENT_FAULTS = (
    "django.security.DisallowedHost",
    "django.security.RequestDataTooBig",
    "django.security.TooManyFieldsSent",
    "django.security.TooManyFilesSent",
)


class ClientFaultFilter(logging.Filter):
    """Turns a record of a client's bad request into a one-line warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("event_id", "board"):
            value = getattr(record, name, None)
            if value:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(fmt: str, level: str) -> dict:
    """Django's LOGGING for the format: everything to stderr, one line per record."""
    formatter = (
        {"()": "board.ops.logformat.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "event": {"()": "board.ops.logformat.EventFilter"},
            "client_fault": {"()": "board.ops.logformat.ClientFaultFilter"},
        },
        "formatters": {"line": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["event"]}},
        "loggers": {name: {"filters": ["client_fault"]} for name in CLIENT_FAULTS},
        "root": {"handlers": ["console"], "level": level},
    }
