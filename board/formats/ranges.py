"""Thread ranges: the last part of /test/read.cgi/{board}/{key}/{range}.

The semantics follow 2ch's own read.cgi (read.c in nekoruri/readcgi:
get_path_info, main and isprinted), with ぜろちゃんねるプラス agreeing
(zerochplus/zerochplus test/module/galadriel.pl ConvertOption and
RegularDispNum, test/read.cgi PrintReadContents):

- ``""``: every post.
- ``50``: post 50 alone. A single number does not bring >>1 along ("単点は、
  nofirst=trueをdefaultに"), so ``50`` and ``50n`` are the same page.
- ``1-100``, ``50-``, ``-100``: that span, with >>1 shown first when the span
  does not start at 1.
- ``l50``: the latest posts, >>1 included, 50 posts in all: >>1 and the last
  49. Both sources count >>1 in the 50 (read.c: ``ls--`` unless nofirst;
  0ch+: ``$start -= 2`` before ``$rn - $start``). ``l1`` is the last post
  alone (read.c turns ``ls`` 0 into 1 with nofirst).
- A trailing ``n`` (``l50n``, ``50-100n``, ``50-n``): no >>1 prepended;
  ``l50n`` is the last 50, and a bare ``n`` is every post but >>1.

Where the two disagree this follows 0ch+: ``n`` only drops the prepended >>1,
so ``1-10n`` still shows post 1 (read.c would hide it, although its own
``>>1-10`` anchors link to ``1-10n``), and a reversed span is swapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ASCII digits only: [0-9], not \d, which would take full-width and other digits.
_RANGE_RE = re.compile(
    r"(?:l(?P<latest>[0-9]+)|(?P<start>[0-9]+)?(?P<dash>-)?(?P<end>[0-9]+)?)(?P<n>n)?",
    re.ASCII,
)
# Post numbers never get near this; it only keeps int() cheap on hostile URLs.
_MAX_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Range:
    """Which posts of a thread to show; ``Range()`` is the whole thread."""

    start: int = 1
    end: int | None = None  # None: to the last post
    latest: int | None = None  # lN: the last N posts, start and end unused
    with_first: bool = False  # show >>1 ahead of the others

    def numbers(self, count: int) -> list[int]:
        """The post numbers to show in a thread of ``count`` posts, ascending."""
        if count <= 0:
            return []
        if self.latest is not None:
            # >>1 takes one of the N places, as on 2ch.
            size = self.latest - 1 if self.with_first else self.latest
            low = max(count - size + 1, 1)
            high = count
        else:
            low = self.start
            high = count if self.end is None else min(self.end, count)
        shown = list(range(low, high + 1)) if low <= high else []
        if self.with_first and (not shown or shown[0] != 1):
            shown.insert(0, 1)
        return shown

    def __str__(self) -> str:
        """The range as read.cgi writes it, so that parse_range(str(r)) == r."""
        if self.latest is not None:
            text = f"l{self.latest}"
        elif self.start == 1 and self.end is None:
            return ""
        elif self.start == self.end:
            return str(self.start)
        elif self.end is None:
            text = f"{self.start}-"
        elif self.start == 1:
            return f"-{self.end}"
        else:
            text = f"{self.start}-{self.end}"
        return text if self.with_first else text + "n"


ALL = Range()


def parse_range(text: str) -> Range:
    """Parse a read.cgi range; raise ValueError saying what is wrong with garbage."""
    m = _RANGE_RE.fullmatch(text)
    if m is None:
        raise ValueError(
            f"not a thread range: {text!r} (expected '', 50, 1-100, 50-, -100 or l50, optionally ending in n)"
        )
    with_first = m.group("n") is None
    if m.group("latest") is not None:
        latest = _number(m.group("latest"), text)
        if latest == 1:
            # l1 would be >>1 and nothing else; read.cgi shows the last post instead.
            with_first = False
        return Range(latest=latest, with_first=with_first)

    start_s, dash, end_s = m.group("start"), m.group("dash"), m.group("end")
    if start_s is None and end_s is None:
        if dash is not None:
            raise ValueError(f"not a thread range: {text!r} (a bare '-' has no numbers)")
        # "" is the whole thread; a bare "n" is the whole thread but >>1.
        return ALL if with_first else Range(start=2)
    start = _number(start_s, text) if start_s is not None else 1
    if dash is None:
        # A single post is shown alone, with or without n.
        return Range(start=start, end=start)
    end = _number(end_s, text) if end_s is not None else None
    if end is not None and end < start:
        start, end = end, start
    # A span from 1 holds >>1 already; only later spans get it prepended.
    return Range(start=start, end=end, with_first=with_first and start != 1)


def _number(digits: str, text: str) -> int:
    if len(digits) > _MAX_DIGITS:
        raise ValueError(f"post number too large in thread range {text!r}")
    number = int(digits)
    if number < 1:
        raise ValueError(f"post numbers start at 1, got {number} in thread range {text!r}")
    return number
