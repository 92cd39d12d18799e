"""Characters that let a name or a body pose as something else: one rule per class.

- invisible: zero-width space, word joiner, byte order mark, Mongolian vowel
  separator, soft hyphen (and in names the zero-width joiners too): removed;
- C1 controls (U+0080-U+009F) and the line and paragraph separators (U+2028,
  U+2029): refused, with the characters named;
- direction controls (U+200E/F, U+202A-U+202E, U+2066-U+2069), which reorder
  what follows them: refused, named;
- private use (U+E000-U+F8FF, what lone Shift_JIS bytes 0xA0 and 0xFD-0xFF
  decode to): refused, named;
- the marks only the server writes (◆ of trips, ★ of caps) and their
  look-alikes, in names: replaced by ◇ and ☆ (tripcode.sanitize_name).
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE_RE = re.compile("[\u200b\u2060\ufeff\u180e\u00ad]")
INVISIBLE_IN_NAMES_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad]")
REFUSED_RE = re.compile("[\u0080-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ue000-\uf8ff]")
FAKE_MARKS = str.maketrans(dict.fromkeys("◆♦⬥⬧◈❖⯁", "◇") | dict.fromkeys("★✭✮✯✪✬✫⋆✩⭐🟊🌟", "☆"))


def without_invisible(text: str, name: bool = False) -> str:
    return (INVISIBLE_IN_NAMES_RE if name else INVISIBLE_RE).sub("", text)


def refused(text: str) -> list[str]:
    """The refused characters in text, named (empty if none)."""
    found = dict.fromkeys(REFUSED_RE.findall(text))
    return [
        f"U+{ord(c):04X} {unicodedata.name(c, 'PRIVATE USE' if 0xE000 <= ord(c) <= 0xF8FF else 'CONTROL')}"
        for c in found
    ]
