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
}
TEXT_MAX = {"title": 128, "noname": 64}  # characters

NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def with_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """Board settings as stored, every key present, numbers clamped into their bounds."""
    unknown = set(payload) - set(DEFAULTS) - {"name", "event"}
    if unknown:
        raise ValueError(f"unknown board settings: {', '.join(sorted(unknown))}")
    settings = {**DEFAULTS, **payload}
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
                found.append(f"{key}={value} is out of bounds ({low}..{high})")
        elif key in TEXT_MAX and len(value) > TEXT_MAX[key]:
            found.append(f"{key} is {len(value)} characters long (at most {TEXT_MAX[key]})")
        elif key == "weekdays" and len(value) not in (0, 7):
            found.append(f"weekdays must be 7 characters, Sunday first (or empty), not {value!r}")
    return found
