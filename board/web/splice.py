"""Pages with stored bytes inside: the template renders around a slot, the bytes go in as they are.

A 1000-post page is half a megabyte of fragments the store already holds as
UTF-8; passing them through the template engine as text would decode, copy
and encode them again for every request. And the frame around them (the
thread's title, the reply form) changes only when the thread or its board
does, so it is rendered once and kept (bounded) under a key naming what it
shows; each request only puts its own tokens in: the CSRF token and the
form's one-time posting token (board/posting/once.py).

The fragments a page shows are kept the same way, joined, one version per
page (its URL's parts), beside the version they were cut from: for a thread
page the thread object's header, which names every posts page's fingerprint
and moves with every post, deletion or purge. A page read again while its
thread is unchanged reads the thread object and nothing else.

A page whose only changing parts are a few strings (書きこみました, after
every post) is rendered once likewise and filled in per request
(render_filled).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from board.lib.kept import Kept
from board.posting.once import new_token
from board.web.csrftoken import get_token

SLOT = "<!--utakata:slot-->"
# Stand-ins rendered into a kept frame, replaced per request (letters only: escaping leaves them be).
CSRF_MARK = "utakataCsrfTokenMark"
ONCE_MARK = "utakataOnceTokenMark"
_CSRF, _ONCE = CSRF_MARK.encode(), ONCE_MARK.encode()
FRAMES_BYTES = 4 * 1024 * 1024  # frames a process keeps at most, in bytes
CONTENTS_BYTES = 8 * 1024 * 1024  # joined fragments a process keeps at most, in bytes


_frames = Kept(FRAMES_BYTES, lambda frame: len(frame[0]) + len(frame[1]))
# ((version, frame key or None), bytes): the content, or the whole page when its frame has no tokens.
_contents = Kept(CONTENTS_BYTES, lambda kept: len(kept[0][0]) + len(kept[1]))

Context = dict | Callable[[], dict]
Pieces = bytes | Sequence[bytes | memoryview]


def _frame(template: str, context: Context, key: Hashable | None) -> tuple[bytes, bytes]:
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
        _frames.put(key, frame)
    return frame


def _tokens(request: HttpRequest, part: bytes) -> bytes:
    if _CSRF in part:
        part = part.replace(_CSRF, get_token(request).encode("ascii"))
    if _ONCE in part:
        part = part.replace(_ONCE, new_token().encode("ascii"))
    return part


def render_spliced(
    request: HttpRequest,
    template: str,
    context: Context,
    content: Pieces | Callable[[], Pieces] = b"",
    key: Hashable | None = None,
    status: int = 200,
    content_key: tuple[Hashable, bytes] | None = None,
) -> HttpResponse:
    """``template`` rendered with ``content`` (UTF-8 HTML, or pieces of it) where it writes ``{{ slot }}``.

    With ``key``, the rendered frame is kept: the key must name everything the
    template shows (the view builds it from the thread's and board's versions),
    and ``context`` may be a function, called only when the frame is rendered.
    With ``content_key`` (where, version), the content is kept likewise, one
    version per ``where`` (the whole page, if its frame is kept and has no
    tokens): the version must name the content's bytes exactly, and
    ``content`` may be a function, called only when they are not kept. The
    template gets no request: per-request values are only the tokens.
    """
    head, tail = _frame(template, context, key)
    if content_key is None:
        pieces = _pieces(content)
        body = b"".join((_tokens(request, head), *pieces, _tokens(request, tail)))
        return HttpResponse(body, content_type="text/html; charset=utf-8", status=status)
    where, version = content_key
    # A kept frame without tokens makes the same page for everyone: then the whole page is kept.
    whole = key is not None and not _marked(head) and not _marked(tail)
    tag = (version, key if whole else None)
    found = _contents.get(where)
    if found is not None and found[0] == tag:
        kept = found[1]
    else:
        kept = b"".join((head, *_pieces(content), tail) if whole else _pieces(content))
        _contents.put(where, (tag, kept))
    body = kept if whole else b"".join((_tokens(request, head), kept, _tokens(request, tail)))
    return HttpResponse(body, content_type="text/html; charset=utf-8", status=status)


_FILL = re.compile(r"utakataFill(\d+)Mark")
FILLED_BYTES = 256 * 1024  # pages kept for render_filled at most, in bytes
_filled = Kept(FILLED_BYTES, lambda pieces: sum(len(p) for p in pieces if isinstance(p, bytes)))


def render_filled(template: str, values: dict[str, str], status: int = 200) -> HttpResponse:
    """``template`` as render_to_string would give it with ``values``, the engine run once per process.

    For pages whose only changing parts are a few strings, each shown as a
    plain ``{{ name }}`` (no filter, autoescaped): the page is rendered once
    with a stand-in for each and kept in pieces, and each call puts in its
    values, escaped as the template would have. The page every post answers
    with (書きこみました) cost about 380 µs a post to render through the engine.
    """
    names = sorted(values)
    key = (template, *names)
    pieces = _filled.get(key)
    if pieces is None:
        html = render_to_string(template, {name: f"utakataFill{i}Mark" for i, name in enumerate(names)})
        parts = _FILL.split(html)  # text, index, text, ...: the indexes at the odd places
        pieces = tuple(part.encode("utf-8") if i % 2 == 0 else names[int(part)] for i, part in enumerate(parts))
        _filled.put(key, pieces)
    body = b"".join(p if isinstance(p, bytes) else escape(values[p]).encode("utf-8") for p in pieces)
    return HttpResponse(body, content_type="text/html; charset=utf-8", status=status)


def _pieces(content: Pieces | Callable[[], Pieces]) -> Sequence[bytes | memoryview]:
    pieces = content() if callable(content) else content
    return (pieces,) if isinstance(pieces, bytes) else pieces


def _marked(part: bytes) -> bool:
    return _CSRF in part or _ONCE in part
