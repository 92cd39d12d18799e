"""The .dat format 2ch clients read: one line per post, five fields split by ``<>``.

    name<>mail<>2026/12/01(火) 12:34:56.78 ID:xxxxxxxx<> body <>title

The title is on line 1 only; every other line ends with an empty fifth field.
Each field is escaped the way 2ch's bbs.cgi wrote it (``&<>"`` as entities,
so no field can contain the separator), the body's line breaks are `` <br> ``
and the body has a space on either side. Text is Shift_JIS (CP932) with LF
line ends; a character CP932 lacks becomes a numeric reference (``&#9829;``),
which every client decodes like the rest of the HTML in a dat.

A trip is written the classic 2ch way, ``名前 </b>◆trip <b>``: clients show
what sits between ``</b>`` and ``<b>`` unbolded, and 0ch+, p2 and JDim all
parse the trip out of that shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from board.formats.dates import DEFAULT_WEEKDAYS, post_date

ENCODING = "cp932"
SEPARATOR = "<>"
LINE_END = "\n"
ABONE = "あぼーん"
# The title of a thread whose first post was purged: deleting keeps a title, as on 2ch; purging does not.
PURGED_TITLE = ABONE
TRIP_MARK = "◆"

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
# Python's cp932 writes these six as their look-alikes (〜 as ～'s 0x8160, − as －...),
# which read back as the other character. As references they come back exactly.
_LOOKALIKES = str.maketrans({c: f"&#{ord(c)};" for c in "\u00a2\u00a3\u00ac\u2016\u2212\u301c"})
# str.translate looks every character up in its table, which dominated rendering
# (a rehydrate renders every post); a search in C first finds the rare text that needs it.
_HAS_LOOKALIKE = re.compile("[\u00a2\u00a3\u00ac\u2016\u2212\u301c]")


def encode(text: str) -> bytes:
    """CP932 bytes; characters outside it become ``&#NNNN;`` as a Shift_JIS browser sends them.

    Every character comes back as itself when the bytes are decoded as CP932
    and the references resolved, the way clients read a dat.
    """
    if _HAS_LOOKALIKE.search(text):
        text = text.translate(_LOOKALIKES)
    return text.encode(ENCODING, errors="xmlcharrefreplace")


def escape(text: str) -> str:
    """Escape one field: ``& < > "`` become entities, so ``<>`` can only be a separator."""
    if "&" in text or "<" in text or ">" in text or '"' in text:
        # Four replaces in C beat translate's per-character lookups; & goes first.
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return text


def name_field(name: str) -> str:
    """The name as 2ch writes it: escaped, a trailing ``◆trip`` set apart as ``</b>◆trip <b>``.

    Posting turns a typed ◆ into ◇, so a ◆ in a stored name is always the
    trip the server computed, stored as ``名前 ◆trip``.
    """
    handle, mark, trip = name.rpartition(f" {TRIP_MARK}")
    if not mark:
        return escape(name)
    return f"{escape(handle)} </b>{TRIP_MARK}{escape(trip)} <b>"


def body_field(body: str) -> str:
    """The body: escaped, newlines as `` <br> ``, with 2ch's space at either end."""
    return " " + escape(body).replace("\n", " <br> ") + " "


def date_field(time_ms: int, poster_id: str, weekdays: str = DEFAULT_WEEKDAYS) -> str:
    """``2026/12/01(火) 12:34:56.78 ID:xxxxxxxx``; without an ID on boards that show none."""
    date = post_date(time_ms, weekdays)
    return f"{date} ID:{poster_id}" if poster_id else date


def post_line(post: Mapping[str, Any], title: str = "", weekdays: str = DEFAULT_WEEKDAYS) -> str:
    """One post as a dat line (with its LF); ``title`` is given for post 1 only."""
    fields = (
        name_field(post["name"]),
        escape(post["mail"]),
        date_field(post["time"], post.get("id", ""), weekdays),
        body_field(post["body"]),
        escape(title),
    )
    return SEPARATOR.join(fields) + LINE_END


def abone_line(title: str = "") -> str:
    """The line a deleted post leaves: four あぼーん fields, the title kept if it was post 1."""
    return SEPARATOR.join((ABONE, ABONE, ABONE, ABONE, escape(title))) + LINE_END


def stop_line(res_max: int) -> str:
    """The line after the last post of a full thread (the 1001st on a 1000-post board).

    It says what the HTML page says under a full thread, so a reader sees the
    same thing through either.
    """
    number = res_max + 1
    body = f"このスレッドは{res_max}を超えました。\nもう書けないので、新しいスレッドを立ててくださいです。。。"
    fields = (str(number), "", f"Over {res_max} Thread", body_field(body), "")
    return SEPARATOR.join(fields) + LINE_END
