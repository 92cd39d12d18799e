"""gunicorn's own refusals, in the board's language.

gunicorn answers a request it cannot read (a control character in a header,
a request line over its limit, too many or too large headers, a transfer
coding it does not take) itself, before Django sees it: with an English page
written by ``gunicorn.util.write_error``, which no setting replaces. Each
worker puts ``write_error`` here in its place (``install``, from
deploy/gunicorn.conf.py's ``post_worker_init``): the same status, and
the board's page saying why (board/web/errors.py), gunicorn's words under it.
"""

from __future__ import annotations

import logging
import socket
from http import HTTPStatus

from gunicorn import util

from board.web.errors import unread_page

log = logging.getLogger(__name__)
_gunicorns = util.write_error


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering with the board's page (gunicorn's own if that fails)."""
    try:
        body = unread_page(status_int, mesg).encode("utf-8")
        # The status's own phrase: gunicorn's ``reason`` says "Bad Request" for its 501.
        head = (
            f"HTTP/1.1 {status_int} {HTTPStatus(status_int).phrase}\r\n"
            "Connection: close\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
    except Exception:  # a refusal is always answered, if only in gunicorn's words
        log.exception("the page for a refused request failed; gunicorn's own is sent")
        _gunicorns(sock, status_int, reason, mesg)
        return
    util.write_nonblock(sock, head + body)


def install() -> None:
    """Answer this process's refusals with ``write_error`` (gunicorn looks the function up at each one)."""
    util.write_error = write_error
