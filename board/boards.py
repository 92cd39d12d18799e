"""A board's settings: what BoardCreated carries, with 2ch's usual defaults.

Lengths are counted in Shift_JIS bytes, as 2ch and SETTING.TXT count them.
Every number has bounds: the store's objects hold posts, titles and thread
lists whose worst-case size follows from these limits, and each object must
stay under 1 MB (board/readmodel/objects.py). createboard refuses a value
out of bounds; a value already in the log is read clamped into them.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from board.posting import characters, ranges

DEFAULTS: dict[str, Any] = {
    "title": "",
    "noname": "名無しさん",
    "subject_max": 96,
    "name_max": 64,
    "mail_max": 64,
    "body_max": 2048,
    "lines_max": 32,
    "cooldown": 10,
    "thread_cap": 500,
    "res_max": 1000,
    "force_id": True,
    "weekdays": "日月火水木金土",
    "top_threads": 10,
    "top_posts": 5,
    "closed": False,  # a closed board is read-only: pages and dats stay, posts are refused
    "staff_names": "管理人,管理者,削除人,運営,モデレーター,モデレータ",  # refused in names without a cap
    # Anti-spam (board/posting/spam.py); 0 turns a rule off.
    "cooldown_max": 120,  # seconds the cooldown escalates to for a poster who keeps hitting it
    "anchors_max": 10,
    "column_max": 256,
    "double_post_seconds": 300,
    "threads_per_poster": 2,
    "threads_per_board": 120,
    "thread_window_minutes": 60,
    "banned_ranges": "",  # CIDR networks refused at posting (board/posting/ranges.py)
    "rules": "",  # ローカルルール: plain text, its lines kept, on the board's top page and in head.txt
}

# What the moderation site's board form calls each setting; the key is what the log,
# createboard --set and SETTING.TXT's readers go by.
LABELS = {
    "title": gettext_lazy("the board's title"),
    "noname": gettext_lazy("the name of a poster who gives none"),
    "subject_max": gettext_lazy("longest thread title, in bytes"),
    "name_max": gettext_lazy("longest name, in bytes"),
    "mail_max": gettext_lazy("longest mail field, in bytes"),
    "body_max": gettext_lazy("longest post, in bytes"),
    "lines_max": gettext_lazy("most lines in a post"),
    "cooldown": gettext_lazy("seconds a poster waits between posts"),
    "thread_cap": gettext_lazy("most live threads (past it, the oldest fall to the archive)"),
    "res_max": gettext_lazy("most posts in a thread"),
    "force_id": gettext_lazy("show each poster's daily ID"),
    "weekdays": gettext_lazy("names of the weekdays, Sunday first"),
    "top_threads": gettext_lazy("threads on the board's top page"),
    "top_posts": gettext_lazy("latest posts shown of each of them"),
    "closed": gettext_lazy("closed: pages stay, posts are refused"),
    "staff_names": gettext_lazy("names only a cap may post under (commas between)"),
    "cooldown_max": gettext_lazy("longest wait the cooldown grows to, in seconds (0: off)"),
    "anchors_max": gettext_lazy("most anchors (>>1) in a post (0: no limit)"),
    "column_max": gettext_lazy("longest line of a post, in bytes (0: no limit)"),
    "double_post_seconds": gettext_lazy("seconds the same text cannot be posted again (0: off)"),
    "threads_per_poster": gettext_lazy("threads one poster may start in the window (0: no limit)"),
    "threads_per_board": gettext_lazy("threads the board takes in the window (0: no limit)"),
    "thread_window_minutes": gettext_lazy("the window for new threads, in minutes"),
    "banned_ranges": gettext_lazy("address ranges refused at posting (CIDR, commas or spaces between)"),
    "rules": gettext_lazy("local rules, on the top page and in head.txt (plain text, lines kept)"),
}

# Every rule that limits one poster or the board's pace off: for test and benchmark boards,
# which post as fast as they can from one address.
UNLIMITED = {
    "cooldown": 0,
    "cooldown_max": 0,
    "double_post_seconds": 0,
    "threads_per_poster": 0,
    "threads_per_board": 0,
}

# Inclusive bounds of the numeric settings.
BOUNDS: dict[str, tuple[int, int]] = {
    "subject_max": (1, 128),
    "name_max": (1, 64),
    "mail_max": (1, 64),
    "body_max": (1, 2048),
    "lines_max": (1, 64),
    "cooldown": (0, 86_400),
    "thread_cap": (1, 700),
    "res_max": (1, 1000),
    "top_threads": (0, 30),
    "top_posts": (0, 10),
    "cooldown_max": (0, 86_400),
    "anchors_max": (0, 20),
    "column_max": (0, 2048),
    "double_post_seconds": (0, 86_400),
    "threads_per_poster": (0, 1000),
    "threads_per_board": (0, 100_000),
    "thread_window_minutes": (0, 1440),
}
TEXT_MAX = {"title": 128, "noname": 64, "staff_names": 256, "banned_ranges": 4096, "rules": 4096}  # characters
# Settings shown on one line of pages and dats (a newline in noname split a post's dat line).
LINE_SETTINGS = ("title", "noname", "staff_names", "weekdays")
LINE_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Settings of several lines: tabs and newlines (LF) kept, other controls refused.
TEXT_SETTINGS = ("rules",)
TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# Paths of the site itself: a board of that name would be shadowed by them, or shadow them.
# "new" is the moderators' form for a new board (/admin/boards/new/).
RESERVED = frozenset(
    {"admin", "static", "test", "healthz", "readyz", "metrics", "bbsmenu", "media", "api", "kako", "new"}
)


def name_problem(name: str) -> str | None:
    """Why a board cannot have this name (None if it can)."""
    if not NAME_RE.match(name):
        return gettext("board name %(name)r: use 1-32 of a-z, 0-9 and _") % {"name": name}
    if name in RESERVED:
        return gettext("board name %(name)r is one of the site's own paths (%(paths)s)") % {
            "name": name,
            "paths": ", ".join(sorted(RESERVED)),
        }
    return None


def with_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """Board settings as stored, every key present, numbers clamped into their bounds."""
    unknown = set(payload) - set(DEFAULTS) - {"name", "event", "reason", "by"}
    if unknown:
        raise ValueError(gettext("unknown board settings: %(keys)s") % {"keys": ", ".join(sorted(unknown))})
    settings = {**DEFAULTS, **{k: v for k, v in payload.items() if k not in ("reason", "by")}}
    for key, (low, high) in BOUNDS.items():
        settings[key] = min(max(settings[key], low), high)
    return settings


def problems(payload: dict[str, Any]) -> list[str]:
    """What is wrong with settings an operator asked for (empty if nothing)."""
    found = []
    for key, value in payload.items():
        if key in BOUNDS:
            low, high = BOUNDS[key]
            if not low <= value <= high:
                found.append(
                    gettext("%(key)s=%(value)s is out of bounds (%(low)d..%(high)d)")
                    % {"key": key, "value": value, "low": low, "high": high}
                )
        elif key in TEXT_MAX and len(value) > TEXT_MAX[key]:
            found.append(
                gettext("%(key)s is %(length)d characters long (at most %(limit)d)")
                % {"key": key, "length": len(value), "limit": TEXT_MAX[key]}
            )
        elif key == "banned_ranges" and (wrong := ranges.problem(value)):
            found.append(wrong)
        elif key == "weekdays" and len(value) not in (0, 7):
            found.append(
                gettext("weekdays must be 7 characters, Sunday first (or empty), not %(value)r") % {"value": value}
            )
        if key == "title" and not value.strip():
            found.append(gettext("title is empty: a board's title names it in bbsmenu and on its pages"))
        if key in TEXT_SETTINGS and (bad := unfit_in_a_line(value, lines=True)):
            found.append(
                gettext("%(key)s holds characters a page may not show: %(names)s")
                % {"key": key, "names": ", ".join(bad[:5])}
            )
        if key in LINE_SETTINGS and (bad := unfit_in_a_line(value)):
            found.append(
                gettext("%(key)s holds characters a line of a page or a dat may not: %(names)s")
                % {"key": key, "names": ", ".join(bad[:5])}
            )
    return found


def unfit_in_a_line(text: str, lines: bool = False) -> list[str]:
    """The characters, named, that may not stand in a one-line setting: controls (a newline
    among them) and those a post may not carry (empty if none). With lines, a setting of
    several lines: its newlines and tabs may stand."""
    control_re = TEXT_CONTROL_RE if lines else LINE_CONTROL_RE
    controls = [f"U+{ord(c):04X} CONTROL" for c in dict.fromkeys(control_re.findall(text))]
    return controls + characters.refused(text)
