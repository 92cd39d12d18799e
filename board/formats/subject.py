"""subject.txt: a board's thread list as 2ch clients read it.

    1700000000.dat<>スレタイ (123)

One line per live thread, most recently bumped first, in CP932 with LF. The
count is the number of lines in the thread's dat (a full thread counts its
1001st line too), which is what clients compare with what they have read.
The title is escaped exactly as on the dat's first line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from board.formats.dat import LINE_END, SEPARATOR, encode, escape


@dataclass(frozen=True, slots=True)
class SubjectRow:
    key: str
    title: str
    lines: int


def subject_line(row: SubjectRow) -> str:
    """``{key}.dat<>{title} ({lines})`` and its LF."""
    return f"{row.key}.dat{SEPARATOR}{escape(row.title)} ({row.lines}){LINE_END}"


def subject_txt(rows: Iterable[SubjectRow]) -> bytes:
    """The whole file, rows in the order given."""
    return encode("".join(subject_line(row) for row in rows))
