"""What a thread's keys under incoming/posts/ say: the highest number taken, and the gaps below it.

A gap is a number below a written one that no post holds: its poster died
after a later number was written, and whatever would have filled it (the
poster itself, the thread's sequence in Redis, board/posting/sequence.py)
is gone too. A dat is read line by line, so the thread's dat would stop
there. The rollup deletes a thread's claims only up to the thread's
*floor*, a key it writes first, once every number up to it was committed
(it voids the gaps below it before, board/lifecycle/claims.py); so above the
floor a number that no claim holds was never written, and one listing tells
the gaps apart from claims the rollup deleted.

A thread with no floor was never rolled up, and then its first post's claim
is listed too; when it is not, the thread was rolled up before floors were
kept, and what lies below its listing is not known: no gap is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from board.log.base import BaseLog
from board.log.layout import CLAIM, FLOOR, PostKey, parse_post_key, thread_prefix


@dataclass
class ThreadClaims:
    """One thread's claims, markers and floors as a listing of incoming/ showed them."""

    claims: set[int] = field(default_factory=set)
    marked: set[int] = field(default_factory=set)  # numbers of markers (a marker may outlive its claim)
    floors: set[int] = field(default_factory=set)

    def see(self, key: PostKey) -> None:
        if key.kind == CLAIM:
            self.claims.add(key.number)
        elif key.kind == FLOOR:
            self.floors.add(key.number)
        else:
            self.marked.add(key.number)

    def __bool__(self) -> bool:
        return bool(self.claims or self.marked or self.floors)

    @property
    def highest(self) -> int | None:
        """The highest number the listing shows taken (claims, markers and floors alike); None if nothing."""
        return max(self.claims | self.marked | self.floors, default=None)

    @property
    def floor(self) -> int | None:
        return max(self.floors, default=None)

    def gaps(self, below: int | None = None) -> list[int]:
        """The numbers below ``below`` (default: the highest claim) that were never written, lowest first."""
        top = max(self.claims, default=0) if below is None else below
        floor = self.floor
        if floor is None and 1 not in self.claims:
            return []  # rolled up before floors were kept: below the listing is not known
        return [n for n in range((floor or 0) + 1, top) if n not in self.claims]


def read_claims(log: BaseLog, board: str, thread: str) -> ThreadClaims:
    """List one thread's keys under incoming/posts/ (S3 lists consistently)."""
    found = ThreadClaims()
    for info in log.list(thread_prefix(board, thread)):
        parsed = parse_post_key(info.key)
        if parsed is not None:
            found.see(parsed)
    return found
