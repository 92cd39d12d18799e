"""Template filters for 2ch pages, each a wrapper around a plain function in board.formats."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from board.formats import dates, markup

register = template.Library()


@register.filter
def post_date(ms: int, weekdays: str = "日月火水木金土") -> str:
    return dates.post_date(ms, weekdays)


@register.filter
def name_html(name: str) -> SafeString:
    return mark_safe(markup.name_html(name))  # noqa: S308 - markup.name_html escapes everything it is given


@register.simple_tag
def body_html(body: str, board: str, thread_key: str) -> SafeString:
    return mark_safe(markup.body_html(body, board, thread_key))  # noqa: S308 - body_html escapes the user's text
