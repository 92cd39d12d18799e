"""A lease in the shared cache (Redis in production): one holder at a time, lapsing on its own.

Why the cache and not a conditional create in the log: a lease must expire
when its holder dies (a killed container), and S3 has no expiry on a single
object nor, on every endpoint, a conditional delete, so two runs finding a
stale lease could both remove it and both take it. Redis ``SET NX EX`` (what
``cache.add`` is) takes and expires atomically. Without Redis there is no
broker either, so nothing would run anyway; on one machine (``make run``) the
local database cache adds atomically too (board/lib/localcache.py).

A lease saves work, not correctness: every job it guards is safe to run twice
at once (board/lifecycle), so a lease that lapses under a slow holder costs a
duplicate run, never a wrong log.
"""

from __future__ import annotations

import contextlib
import uuid

from django.core.cache import cache

PREFIX = "utakata:lease:"


class Lease:
    """The lease named name, held for seconds after each take or renew."""

    def __init__(self, name: str, seconds: int) -> None:
        self.name = name
        self.key = PREFIX + name
        self.seconds = seconds

    def take(self, token: str | None = None) -> str | None:
        """Take the lease if nobody holds it; the holder's token, or None if it is held.

        Raises whatever the cache raises when it cannot be reached: a caller
        that must not run unguarded says so by not catching it.
        """
        token = token or uuid.uuid4().hex
        return token if cache.add(self.key, token, self.seconds) else None

    def holder(self) -> str | None:
        """The token of whoever holds the lease now, or None."""
        return cache.get(self.key)

    def renew(self, token: str) -> bool:
        """Hold the lease for another ``seconds`` if token still holds it; False if it was lost.

        Read-then-write, not atomic: at worst a lease taken over in between is
        overwritten, and two holders run what is safe to run twice.
        """
        with contextlib.suppress(Exception):
            if cache.get(self.key) == token:
                cache.set(self.key, token, self.seconds)
                return True
        return False

    def hand_over(self, token: str, new: str) -> bool:
        """Hold the lease under new if token holds it now (read-then-write, as renew); False otherwise."""
        if cache.get(self.key) != token:
            return False
        cache.set(self.key, new, self.seconds)
        return True

    def release(self, token: str, hold: int = 0) -> None:
        """Give the lease up (or keep it for hold more seconds, so that nobody takes it sooner)."""
        with contextlib.suppress(Exception):
            if cache.get(self.key) != token:
                return
            if hold > 0:
                cache.set(self.key, token, hold)
            else:
                cache.delete(self.key)
