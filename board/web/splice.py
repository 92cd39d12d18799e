"""Pages with stored bytes inside: the template renders around a slot, the bytes go in as they are.

A 1000-post page is half a megabyte of fragments the store already holds as
UTF-8; passing them through the template engine as text would decode,
copy and encode them again for every request.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

SLOT = "<!--utakata:slot-->"


def render_spliced(
    request: HttpRequest, template: str, context: dict, content: bytes | list[bytes | memoryview], status: int = 200
) -> HttpResponse:
    """Render ``template`` with ``content`` (UTF-8 HTML, or pieces of it) where it writes ``{{ slot }}``."""
    html = render_to_string(template, {**context, "slot": mark_safe(SLOT)}, request)  # noqa: S308 - a constant
    head, sep, tail = html.partition(SLOT)
    if not sep:
        raise ValueError(f"{template} has no {{{{ slot }}}}")
    pieces = [content] if isinstance(content, bytes) else content
    body = b"".join((head.encode("utf-8"), *pieces, tail.encode("utf-8")))
    return HttpResponse(body, content_type="text/html; charset=utf-8", status=status)
