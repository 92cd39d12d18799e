"""Pages with stored bytes inside: the template renders around a slot, the bytes go in as they are.

A 1000-post page is half a megabyte of fragments the store already holds as
UTF-8; passing them through the template engine as text would decode, copy
and encode them again for every request. And the frame around them (the
thread's title, the reply form) changes only when the thread or its board
does, so it is rendered once and kept (bounded) under a key naming what it
shows; each request only puts its own tokens in: the CSRF token and the
form's one-time posting token (board/posting/once.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from board.posting.once import new_token
from board.web.csrftoken import get_token

SLOT = "<!--utakata:slot-->"
# Stand-ins rendered into a kept frame, replaced per request (letters only: escaping leaves them be).
CSRF_MARK = "utakataCsrfTokenMark"
ONCE_MARK = "utakataOnceTokenMark"
FRAMES_BYTES = 4 * 1024 * 1024  # frames a process keeps at most, in bytes

_frames: OrderedDict[Hashable, tuple[bytes, bytes]] = OrderedDict()
_frames_size = 0
_lock = threading.Lock()


Context = dict | Callable[[], dict]


def _frame(template: str, context: Context, key: Hashable | None) -> tuple[bytes, bytes]:
    global _frames_size
    if key is not None:
        found = _frames.get(key)
        if found is not None:
            return found
    marks = {"slot": mark_safe(SLOT), "csrf_token": CSRF_MARK, "once": ONCE_MARK}  # noqa: S308 - constants
    html = render_to_string(template, {**(context() if callable(context) else context), **marks})
    head, sep, tail = html.partition(SLOT)
    if not sep:
        raise ValueError(f"{template} has no {{{{ slot }}}}")
    frame = (head.encode("utf-8"), tail.encode("utf-8"))
    if key is not None:
        with _lock:
            _frames[key] = frame
            _frames_size += len(frame[0]) + len(frame[1])
            while _frames_size > FRAMES_BYTES and _frames:
                _, (old_head, old_tail) = _frames.popitem(last=False)
                _frames_size -= len(old_head) + len(old_tail)
    return frame


def _tokens(request: HttpRequest, part: bytes) -> bytes:
    if CSRF_MARK.encode() in part:
        part = part.replace(CSRF_MARK.encode(), get_token(request).encode("ascii"))
    if ONCE_MARK.encode() in part:
        part = part.replace(ONCE_MARK.encode(), new_token().encode("ascii"))
    return part


def render_spliced(
    request: HttpRequest,
    template: str,
    context: Context,
    content: bytes | list[bytes | memoryview] = b"",
    key: Hashable | None = None,
    status: int = 200,
) -> HttpResponse:
    """``template`` rendered with ``content`` (UTF-8 HTML, or pieces of it) where it writes ``{{ slot }}``.

    With ``key``, the rendered frame is kept: the key must name everything the
    template shows (the view builds it from the thread's and board's versions),
    and ``context`` may be a function, called only when the frame is rendered.
    The template gets no request: per-request values are only the tokens.
    """
    head, tail = _frame(template, context, key)
    pieces = [content] if isinstance(content, bytes) else content
    body = b"".join((_tokens(request, head), *pieces, _tokens(request, tail)))
    return HttpResponse(body, content_type="text/html; charset=utf-8", status=status)
