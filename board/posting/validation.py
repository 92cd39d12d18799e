"""Checking a submitted post against the board's limits, before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from board.formats import dat
from board.posting import characters
from board.posting import refusals as r
from board.posting.refusals import Refused

# Control characters other than newline and tab never reach the log: they break
# the dat format and terminals. CR is folded into LF before this.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Submission:
    """A post as the poster sent it, already decoded to text."""

    name: str = ""
    mail: str = ""
    body: str = ""
    subject: str = ""
    token: str = ""  # the HTML form's one-time token (board/posting/once.py)
    client_time: str = ""  # bbs.cgi's ``time`` field, part of its resubmission key


def sjis_size(text: str) -> int:
    """Bytes in Shift_JIS, the unit 2ch and SETTING.TXT count in.

    Characters outside CP932 are stored as numeric references in the dat, so
    they count as the reference's length: the count is of the dat's own bytes.
    """
    return len(dat.encode(text))


def clean_line(text: str) -> str:
    return CONTROL_RE.sub("", text.replace("\r", "").replace("\n", " ")).strip()


def clean_body(text: str) -> str:
    lines = CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _check_size(field: str, value: str, limit: int) -> None:
    size = sjis_size(value)
    if size > limit:
        raise Refused(r.TOO_LONG.format(field=field, size=size, limit=limit))


def validate(sub: Submission, board: dict[str, Any], new_thread: bool) -> Submission:
    """Return the cleaned submission, or raise Refused saying what is wrong."""
    # Bytes that were not the declared charset are refused where they are decoded (bbs.cgi's
    # form, the HTML form's view): a U+FFFD here was typed.
    typed = sub.name + sub.mail + sub.body + sub.subject
    bad = characters.refused(typed)
    if bad:
        raise Refused(r.BAD_CHARACTERS.format(names="、".join(bad[:5])), status=400)
    cleaned = Submission(
        name=characters.without_invisible(clean_line(sub.name), name=True),
        mail=characters.without_invisible(clean_line(sub.mail)),
        body=characters.without_invisible(clean_body(sub.body)),
        subject=characters.without_invisible(clean_line(sub.subject)),
    )
    if new_thread:
        if not cleaned.subject:
            raise Refused(r.NO_SUBJECT, status=400)
        _check_size("サブジェクト", cleaned.subject, board["subject_max"])
    _check_size("名前", cleaned.name, board["name_max"])
    _check_size("メール欄", cleaned.mail, board["mail_max"])
    if not cleaned.body.strip():
        raise Refused(r.NO_BODY, status=400)
    _check_size("本文", cleaned.body, board["body_max"])
    lines = cleaned.body.count("\n") + 1
    if lines > board["lines_max"]:
        raise Refused(r.TOO_MANY_LINES.format(lines=lines, limit=board["lines_max"]))
    return cleaned
