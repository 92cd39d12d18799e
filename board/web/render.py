"""One post as HTML, rendered by a plain function and memoised.

A 1000-res thread page through ``{% include %}`` cost about 100 ms of template
work per request; a post's HTML depends only on the post, its board and
thread, and a post never changes except to become あぼーん (a new event id), so
the rendered fragment is cached per process under exactly those inputs.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from board.formats.dates import DEFAULT_WEEKDAYS, post_date
from board.formats.markup import body_html, name_html

CACHE_POSTS = 50_000  # about 1 KB each: tens of MB at most per process


@lru_cache(maxsize=CACHE_POSTS)
def _render(
    board: str,
    thread: str,
    weekdays: str,
    number: int,
    event: str,
    deleted: bool,
    name: str,
    mail: str,
    time: int,
    uid: str,
    body: str,
) -> str:
    link = f'<a class="num" href="/test/read.cgi/{board}/{thread}/{number}">{number}</a>'
    if deleted:
        head = '<span class="name">あぼーん</span>：あぼーん'
        text = "あぼーん"
    else:
        shown = name_html(name)
        if mail:
            head = f'<a class="name" href="mailto:{escape(mail)}">{shown}</a>'
        else:
            head = f'<span class="name">{shown}</span>'
        head += f"：{post_date(time, weekdays)}"
        if uid:
            head += f' <span class="uid">ID:{escape(uid)}</span>'
        text = body_html(body, board, thread)
    css = "post deleted" if deleted else "post"
    return (
        f'<div class="{css}" id="{number}" data-number="{number}">\n'
        f"<dt>{link} ：{head}</dt>\n"
        f'<dd class="body">{text}</dd>\n</div>\n'
    )


def post_html(board: dict[str, Any], thread: str, post: dict[str, Any]) -> SafeString:
    """The post's <div> for board and thread pages; every user field is escaped."""
    deleted = bool(post.get("deleted"))
    html = _render(
        board["name"],
        thread,
        post.get("weekdays", DEFAULT_WEEKDAYS),
        post["number"],
        post.get("event", ""),
        deleted,
        "" if deleted else post["name"],
        "" if deleted else post["mail"],
        0 if deleted else post["time"],
        "" if deleted else post.get("id", ""),
        "" if deleted else post["body"],
    )
    return mark_safe(html)  # noqa: S308 - _render escapes every user field


def posts_html(board: dict[str, Any], thread: str, posts: list[dict[str, Any]]) -> SafeString:
    """Several posts, concatenated (one template variable instead of a loop of includes)."""
    return mark_safe("".join(post_html(board, thread, p) for p in posts))  # noqa: S308
