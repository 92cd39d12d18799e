"""A board's settings: what BoardCreated carries, with 2ch's usual defaults.

Lengths are counted in Shift_JIS bytes, as 2ch and SETTING.TXT count them.
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

NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def with_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """Board settings as stored, every key present."""
    unknown = set(payload) - set(DEFAULTS) - {"name", "event"}
    if unknown:
        raise ValueError(f"unknown board settings: {', '.join(sorted(unknown))}")
    return {**DEFAULTS, **payload}
