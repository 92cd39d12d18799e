"""The board list (板一覧) that clients load first: bbsmenu.html and bbsmenu.json.

bbsmenu.html keeps 2ch's exact line shapes, because clients parse it line by
line with regular expressions (JDim: ``<BR><BR><B>category</B><BR>`` opens a
category, ``<A HREF=url/>name</A>`` on its own line is a board; the HREF is
unquoted, as on 2ch). bbsmenu.json has the fields of 5ch's bbsmenu.json.
Utakata has no board categories, so every board sits in one category named
after the site.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from board.formats.dat import LINE_END, encode
from board.formats.dates import post_date


@dataclass(frozen=True, slots=True)
class MenuBoard:
    name: str  # the directory, e.g. "news"
    title: str  # e.g. "ニュース速報"


def board_url(base_url: str, board: MenuBoard) -> str:
    """The board's URL with its trailing slash, which clients require."""
    return f"{base_url.rstrip('/')}/{board.name}/"


def bbsmenu_html(boards: Iterable[MenuBoard], base_url: str, site: str) -> bytes:
    """bbsmenu.html in CP932, one board per line."""
    lines = [
        "<HTML>",
        "<HEAD>",
        '<META http-equiv="Content-Type" content="text/html; charset=Shift_JIS">',
        f"<TITLE>BBS MENU for {escape(site)}</TITLE>",
        "</HEAD>",
        "<BODY>",
        f"<BR><BR><B>{escape(site)}</B><BR>",
    ]
    lines += [f"<A HREF={board_url(base_url, b)}>{escape(b.title)}</A><br>" for b in boards]
    lines += ["</BODY>", "</HTML>"]
    return encode(LINE_END.join(lines) + LINE_END)


def bbsmenu_json(boards: Iterable[MenuBoard], base_url: str, site: str, last_modify_ms: int) -> bytes:
    """bbsmenu.json in UTF-8 (JSON's own encoding), 5ch's layout."""
    content = [
        {
            "board_name": b.title,
            "category": 1,
            "category_name": site,
            "category_order": order,
            "directory_name": b.name,
            "url": board_url(base_url, b),
        }
        for order, b in enumerate(boards, start=1)
    ]
    menu = {
        "description": f"{site} 板一覧",
        "last_modify": last_modify_ms // 1000,
        "last_modify_string": post_date(last_modify_ms)[:-3],  # to the second, as 5ch prints it
        "menu_list": [
            {"category_content": content, "category_name": site, "category_number": 1, "category_total": len(content)}
        ],
    }
    return json.dumps(menu, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
