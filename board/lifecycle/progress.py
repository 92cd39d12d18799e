"""How far a long job is: counts of its work, said every few seconds while it runs.

Rollup, snapshot, bundling, verifylog and reconcile count what they did
(``add``) and name their phases (``phase``); a Progress says a line at most
every ``every`` seconds, to the job's log (a task) or to the command's output
(a command), and each time calls ``beat``, which renews the job's lease
(board/lifecycle/due.py) and publishes the count as a metric. Its final line
is the job's report (``lines()``), said by the caller, as rehydrate does.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger(__name__)

EVERY = 10.0


class Progress:
    """Counts for the job named job; say(line) every `every` seconds, and beat() with them."""

    def __init__(
        self,
        job: str,
        say: Callable[[str], None] | None = None,
        every: float = EVERY,
        beat: Callable[[Progress], None] | None = None,
    ) -> None:
        self.job = job
        self.say = say or logger.info
        self.every = every
        self.beat = beat
        self.counts: Counter[str] = Counter()
        self.started = self.last = time.monotonic()
        self.stage = ""

    def add(self, what: str, n: int = 1) -> None:
        """Count n more of what ("events read", "hours rolled up"); say where the job is if it is time."""
        self.counts[what] += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.tell()

    def phase(self, stage: str) -> None:
        """The job begins a new stage ("reading incoming/", "writing 2026-12-01T08"): said at once."""
        self.stage = stage
        self.tell()

    def tell(self) -> None:
        self.say(self.line())
        if self.beat is not None:
            try:
                self.beat(self)
            except Exception:  # a lost lease renewal or metric must never stop the job
                logger.exception("%s: progress beat failed", self.job)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        counts = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        parts = [part for part in (self.stage, counts) if part]
        return f"{self.job}: {'; '.join(parts) or 'started'} ({self.elapsed():.0f}s)"


def quiet(job: str) -> Progress:
    """A Progress that counts and says nothing (the jobs' default when nobody watches)."""
    return Progress(job, say=lambda line: None, every=float("inf"))
