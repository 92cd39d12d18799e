"""The threads' claims in incoming/ as the rollup sees them: which to keep, mark and tidy.

Numbering rests on them (board/posting/numbers.py): a live thread's highest
claim is never deleted, and no claim is deleted above a thread's lowest
open number, so a number missing above its lowest claim is a true gap.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Collection

from board.log import AlreadyExists, BaseLog, ObjectInfo
from board.log.layout import marker_key, parse_post_key, post_key


def mark(log: BaseLog, claim: str) -> None:
    """Write the marker of a kept claim whose event is now in hourly/."""
    parsed = parse_post_key(claim)
    assert parsed is not None and not parsed.marker
    with contextlib.suppress(AlreadyExists):  # a marker is empty: whatever is there says the same
        log.create(marker_key(parsed.board, parsed.thread, parsed.number), b"")


def tidy_claims(log: BaseLog, claims: Claims, archived: set[tuple[str, str]]) -> int:
    """Step 6: remove kept claims (and markers) no thread needs any more; return how many objects went.

    - a thread whose ThreadArchived event this run rolled up: every marked
      claim and marker (its claims in the rolled hours are gone already);
    - a live thread whose highest claim is marked: the marked claims and
      markers below it (a newer claim was rolled, so they are not the highest);
    - markers of a thread with no claim listed at all: left by an archival
      tidy that stopped between the claims and the markers (a live thread's
      highest claim is never deleted, so the listing shows one).

    Claims go before their markers, so a crash leaves a marker without a
    claim, never a rolled claim without its marker.
    """
    claim_keys: list[str] = []
    marker_keys: list[str] = []
    for (board, thread), markers in claims.markers.items():
        top = claims.top.get((board, thread))
        if (board, thread) in archived or top is None:
            numbers = set(markers)
        elif top in markers:
            numbers = {n for n in markers if n < min(top, claims.low.get((board, thread), top))}
        else:
            continue  # the highest claim is not rolled yet: the older kept one stays until it is
        claim_keys += [post_key(board, thread, n) for n in sorted(numbers)]
        marker_keys += [marker_key(board, thread, n) for n in sorted(numbers)]
    if claim_keys:
        log.delete(claim_keys)
        log.delete(marker_keys)
    return len(claim_keys) + len(marker_keys)


class Claims:
    """What the incoming listing showed of each thread's claims: the highest number, and the marked ones.

    One entry per thread with a claim in incoming/: the live threads (each
    keeps one) and those posted to since the last rollup, not every thread
    the board ever had.
    """

    def __init__(self) -> None:
        self.top: dict[tuple[str, str], int] = {}
        self.markers: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.numbers: dict[tuple[str, str], set[int]] = defaultdict(set)  # every claim listed
        self.open: dict[tuple[str, str], set[int]] = defaultdict(set)  # claims this run does not roll up
        self.low: dict[tuple[str, str], int] = {}  # each thread's lowest open number (see keep)

    def see(self, info: ObjectInfo) -> None:
        parsed = parse_post_key(info.key)
        if parsed is None:
            return
        thread = (parsed.board, parsed.thread)
        if parsed.marker:
            self.markers[thread].add(parsed.number)
            return
        self.numbers[thread].add(parsed.number)
        if parsed.number > self.top.get(thread, 0):
            self.top[thread] = parsed.number

    def still_open(self, key: str) -> None:
        """A claim whose event this run does not roll up (an open hour, another hour, a failure)."""
        parsed = parse_post_key(key)
        if parsed is not None and not parsed.marker:
            self.open[(parsed.board, parsed.thread)].add(parsed.number)

    def keep(self, exclude: Collection[tuple[str, str]]) -> frozenset[str]:
        """The claim keys not to delete: of each live thread, every one from its lowest open number on.

        A thread's lowest open number is its lowest claim not rolled up by
        this run, or the claim just below its first gap (a number no write
        took, see board/posting/numbers.py), or its highest claim. Deleting
        only below it keeps every number missing above a thread's lowest claim
        a true gap, whatever order the events' clocks put them in: numbering
        fills such gaps first (numbers.first_free).
        """
        kept = []
        for (board, thread), numbers in self.numbers.items():
            if (board, thread) in exclude:
                continue
            ordered = sorted(numbers)
            # A gap is kept with the claim just below it, which is where numbering looks for it.
            below_gap = next((n for n, m in zip(ordered, ordered[1:], strict=False) if m > n + 1), ordered[-1])
            low = min(below_gap, min(self.open.get((board, thread), ()), default=below_gap))
            self.low[(board, thread)] = low
            kept += [post_key(board, thread, n) for n in ordered if n >= low]
        return frozenset(kept)

    def old_gaps(self, exclude: Collection[tuple[str, str]]) -> list[tuple[str, str, int]]:
        """Each live thread's first gap when the claim above it is rolled up by this run.

        Its post was never written and the poster that had its number is long
        gone (the claim above is at least a grace period old), so the gap would
        hold the thread's dat back until somebody posts: the rollup voids it.
        """
        gaps = []
        for (board, thread), numbers in self.numbers.items():
            ordered = sorted(numbers)
            above = next((m for n, m in zip(ordered, ordered[1:], strict=False) if m > n + 1), None)
            if (board, thread) not in exclude and above is not None and above not in self.open[(board, thread)]:
                below = max(n for n in ordered if n < above)
                gaps.append((board, thread, below + 1))
        return gaps

    def marked_now(self, kept: list[str]) -> None:
        """Claims this run kept and marked."""
        for key in kept:
            parsed = parse_post_key(key)
            assert parsed is not None
            self.markers[(parsed.board, parsed.thread)].add(parsed.number)
