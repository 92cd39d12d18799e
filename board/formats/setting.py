"""SETTING.TXT: the board's settings as the keys 2ch clients read; head.txt, its local rules.

The keys and their meanings follow 2ch and ぜろちゃんねるプラス: lengths are
Shift_JIS bytes, and BBS_LINE_NUMBER is *half* the line limit (clients and
0ch+ check ``lines > BBS_LINE_NUMBER * 2``), so an odd limit is rounded
down: a client never offers a post the board would refuse for its lines.
JDim reads BBS_NONAME_NAME to tell a default name from a chosen one.
The other anti-spam rules (board/posting/spam.py) have no key whose meaning
in 2ch is theirs, so they are not advertised under a borrowed name.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from board.formats.dat import LINE_END, encode

CHECKED = "checked"


def settings(board: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The key/value pairs, in the order 2ch writes them."""
    checked = {True: CHECKED, False: ""}
    return [
        ("BBS_TITLE", board["title"]),
        ("BBS_TITLE_ORIG", board["title"]),
        ("BBS_NONAME_NAME", board["noname"]),
        ("BBS_LINE_NUMBER", str(max(1, board["lines_max"] // 2))),
        ("BBS_SUBJECT_COUNT", str(board["subject_max"])),
        ("BBS_NAME_COUNT", str(board["name_max"])),
        ("BBS_MAIL_COUNT", str(board["mail_max"])),
        ("BBS_MESSAGE_COUNT", str(board["body_max"])),
        ("BBS_THREAD_STOP", str(board["res_max"])),
        # 0ch+ names the same limit BBS_RES_MAX; some clients read only that one.
        ("BBS_RES_MAX", str(board["res_max"])),
        # Numeric references pass through to the dat and are shown as the character.
        ("BBS_UNICODE", "pass"),
        ("BBS_FORCE_ID", checked[bool(board["force_id"])]),
        ("BBS_NO_ID", checked[not board["force_id"]]),
        ("BBS_YMD_WEEKS", "/".join(board["weekdays"])),
        # Seconds between one poster's posts (Samba): clients wait before offering to send.
        ("BBS_SAMBATIME", str(board["cooldown"])),
        # 0ch+'s limit of Shift_JIS bytes in one line of a post.
        ("BBS_COLUMN_NUMBER", str(board["column_max"])),
    ]


def setting_txt(board: Mapping[str, Any]) -> bytes:
    """The whole file: 2ch's ``name@name`` first line, then ``KEY=value`` lines, CP932 with LF."""
    # Settings are one line each: a newline in a value would forge another key.
    lines = [f"{board['name']}@{board['name']}"]
    lines += [f"{key}={value.replace(chr(10), ' ').replace(chr(13), ' ')}" for key, value in settings(board)]
    return encode(LINE_END.join(lines) + LINE_END)


def head_txt(board: Mapping[str, Any]) -> bytes:
    """The local rules (ローカルルール) as 2ch serves them: an HTML fragment, a <br> ending each line, CP932."""
    lines = board["rules"].splitlines()
    return encode("".join(f"{escape(line, quote=False)}<br>{LINE_END}" for line in lines))
