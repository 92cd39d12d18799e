"""One post as HTML, the fragment thread pages and board tops are assembled from.

The store keeps each page's fragments already rendered (see
board/readmodel/encoding.py), so this runs once per post and rendering
change, not per request. RENDERER names this code's output: stored fragments
made by another version are rendered again when read, so a deploy that
changes the markup changes every page.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from board.formats.dates import DEFAULT_WEEKDAYS, post_date
from board.formats.markup import body_html, name_html

RENDERER = "3"
_SPECIAL = re.compile("[&<>\"']")  # what escape() changes: a post renders its mail and ID with no call most times


def _escape(text: str) -> str:
    return escape(text) if _SPECIAL.search(text) else text


def post_html(board: str, thread: str, post: dict[str, Any]) -> str:
    """The post's ``<div>``; every user field is escaped (see markup)."""
    number = post["number"]
    link = f'<a class="num" href="/test/read.cgi/{board}/{thread}/{number}">{number}</a>'
    if post.get("deleted"):
        head = '<span class="name">あぼーん</span>：あぼーん'
        text = "あぼーん"
        css = "post deleted"
        report = ""
    else:
        shown = name_html(post["name"])
        mail = post["mail"]
        head = (
            f'<a class="name" href="mailto:{_escape(mail)}">{shown}</a>'
            if mail
            else f'<span class="name">{shown}</span>'
        )
        head += f"：{post_date(post['time'], post.get('weekdays', DEFAULT_WEEKDAYS))}"
        if post.get("id"):
            head += f' <span class="uid">ID:{_escape(post["id"])}</span>'
        text = body_html(post["body"], board, thread)
        css = "post"
        report = f'<a class="report" href="/{board}/report/{thread}/{number}" rel="nofollow">通報</a>\n'
    return (
        f'<div class="{css}" id="{number}" data-number="{number}">\n'
        f"<dt>{link} ：{head}</dt>\n"
        f'<dd class="body">{text}</dd>\n{report}</div>\n'
    )
