"""The rollup's care of the claims in incoming/posts/: kept, floored, gap-free, tidied.

A claim is what makes a res number unique (board/posting/numbers.py), so
the rollup does not simply delete the claims whose events it rolled up:

- each live thread's highest claim stays (marked ``.rolled`` once its event
  is in hourly/), so numbering always sees the highest number taken;
- before deleting any claim of a thread, the rollup voids the gaps among the
  numbers it rolls up (a number below a written one that nobody wrote: its
  poster died, and Redis lost the sequence that would have settled it,
  board/posting/sequence.py) and writes the thread's *floor* at the highest
  number it rolls up. Claims are deleted only up to a floor, so above it a
  missing number is a gap, never a deleted claim (board/log/claims.py), and
  a dat never stops for good at a number nobody wrote. A thread whose gaps
  or floor cannot be written keeps its claims until a later run can;
- step 6 (tidy) removes what no thread needs any more: the kept claims and
  markers below a newer rolled highest, the floors below the newest, and
  everything of a thread whose archival the run rolled up.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from board.log import AlreadyExists, BaseLog, LogError, ObjectInfo
from board.log.claims import ThreadClaims
from board.log.layout import floor_key, marker_key, parse_post_key, post_key
from board.posting.numbers import void

logger = logging.getLogger(__name__)

Thread = tuple[str, str]


class Claims:
    """What the incoming listing showed of each thread's claims, markers and floors.

    One entry per thread with a key in incoming/posts/: the live threads
    (each keeps one) and those posted to since the last rollup, not every
    thread the board ever had.
    """

    def __init__(self) -> None:
        self.threads: dict[Thread, ThreadClaims] = defaultdict(ThreadClaims)

    def see(self, info: ObjectInfo) -> None:
        parsed = parse_post_key(info.key)
        if parsed is not None:
            self.threads[(parsed.board, parsed.thread)].see(parsed)

    def highest(self, exclude: Collection[Thread]) -> frozenset[str]:
        """The claim keys to keep: each thread's highest, but not of threads being archived."""
        return frozenset(
            post_key(b, t, max(seen.claims))
            for (b, t), seen in self.threads.items()
            if seen.claims and (b, t) not in exclude
        )

    def marked_now(self, kept: list[str]) -> None:
        """Claims this run kept and marked."""
        for key in kept:
            parsed = parse_post_key(key)
            assert parsed is not None
            self.threads[(parsed.board, parsed.thread)].marked.add(parsed.number)


@dataclass
class Settled:
    """What settle_gaps did: the numbers it voided, and the threads whose claims stay for a later run."""

    voided: list[str] = field(default_factory=list)  # "board/thread number"
    held: dict[Thread, str] = field(default_factory=dict)  # thread -> why


def settle_gaps(log: BaseLog, claims: Claims, rolling: dict[Thread, int]) -> Settled:
    """Void the gaps up to each thread's highest number being rolled up, then write its floor there.

    ``rolling`` maps each live thread to the highest number of the claims
    this run rolls up. The threads in ``held`` must not have their claims
    deleted: a gap or the floor could not be written (the next run tries again).
    """
    done = Settled()
    for (board, thread), top in sorted(rolling.items()):
        seen = claims.threads[(board, thread)]
        if seen.floor is not None and seen.floor >= top:
            continue  # everything it rolls up is below the floor already
        try:
            for gap in seen.gaps(below=top):
                if not void(log, board, thread, gap):
                    raise LogError(f"the gap at {gap} could not be voided")
                done.voided.append(f"{board}/{thread} {gap}")
            with contextlib.suppress(AlreadyExists):  # a floor is empty: whatever is there says the same
                log.create(floor_key(board, thread, top), b"")
        except LogError as exc:
            logger.error("rollup: the claims of %s/%s are kept for a later run: %s", board, thread, exc)
            done.held[(board, thread)] = str(exc)
            continue
        seen.floors.add(top)
    return done


def tidy_claims(log: BaseLog, claims: Claims, archived: set[Thread]) -> int:
    """Step 6: remove kept claims, markers and floors no thread needs any more; return how many objects went.

    - a thread whose ThreadArchived event this run rolled up: every marked
      claim, marker and floor (its claims in the rolled hours are gone already);
    - a live thread whose highest claim is marked: the marked claims and
      markers below it (a newer claim was rolled, so they are not the highest);
    - markers and floors of a thread with no claim listed at all: left by an
      archival tidy that stopped between the claims and the rest (a live
      thread's highest claim is never deleted, so the listing shows one);
    - a live thread's floors below its newest.

    Claims go before their markers, so a crash leaves a marker without a
    claim, never a rolled claim without its marker; floors go last, so the
    claims they account for are gone before them.
    """
    claim_keys: list[str] = []
    marker_keys: list[str] = []
    floor_keys: list[str] = []
    for (board, thread), seen in claims.threads.items():
        top = max(seen.claims, default=None)
        if (board, thread) in archived or top is None:
            numbers, floors = set(seen.marked), set(seen.floors)
        else:
            numbers = {n for n in seen.marked if n < top} if top in seen.marked else set()
            floors = {n for n in seen.floors if n < max(seen.floors)}
        claim_keys += [post_key(board, thread, n) for n in sorted(numbers)]
        marker_keys += [marker_key(board, thread, n) for n in sorted(numbers)]
        floor_keys += [floor_key(board, thread, n) for n in sorted(floors)]
    for keys in (claim_keys, marker_keys, floor_keys):
        if keys:
            log.delete(keys)
    return len(claim_keys) + len(marker_keys) + len(floor_keys)
