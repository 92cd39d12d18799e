"""Writing a post to the log within a deadline, and knowing what happened.

S3 retries a PUT that timed out (three attempts of ten seconds by default),
and a PUT whose answer was lost may still have landed: "not saved" is only
true when the log says the key is not there *and* nothing can land there
later. So a commit runs in a pool thread while the request waits at most
COMMIT_DEADLINE seconds; then:

- the put returned: written;
- it found the key taken by other bytes (the conditional put): taken, and
  the caller moves on to the next number;
- it failed: the key is read back (what is there decides), and when the log
  still cannot say, or the put is still running at the deadline, the outcome
  is unknown: Unconfirmed. The poster is told it is not confirmed and that
  sending again is safe (once.py makes a resubmission find the first post).

The put goes on in the pool after the deadline; when it ends, ``settle``
records how (once.py uses that for resubmissions).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from django.conf import settings

from board.log import AlreadyExists, BaseLog, LogError, LogUnavailable, NotFound, ObjectInfo

logger = logging.getLogger(__name__)

T = TypeVar("T")

POOL_SIZE = 16
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


class Unconfirmed(LogError):
    """The log did not say, within the deadline, whether the post was written."""


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()  # a forked process needs threads of its own
    pool = _pools.get(pid)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(pid) or ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="utakata-commit")
            _pools[pid] = pool
    return pool


def in_background(work: Callable[[], None]) -> None:
    """Run work in the commit pool; its failure is logged, not raised (nobody waits for it)."""

    def run() -> None:
        try:
            work()
        except Exception:
            logger.exception("background work of the write path failed")

    _pool().submit(run)


def deadline() -> float:
    """The monotonic time a commit that starts now must be answered by."""
    return time.monotonic() + settings.COMMIT_DEADLINE


def _remaining(until: float) -> float:
    return max(0.0, until - time.monotonic())


def create(log: BaseLog, key: str, data: bytes, until: float, settle: Callable[[str], None] | None = None) -> None:
    """log.create(key, data) answered by ``until``: returns if written, raises AlreadyExists if taken,
    Unconfirmed if the log cannot say in time, LogError if it surely was not written."""

    def put() -> None:
        try:
            log.create(key, data)
        except AlreadyExists:
            if settle:
                settle("taken")
            raise
        except BaseException:
            if settle:
                settle("failed")
            raise
        if settle:
            settle("written")

    future: Future = _pool().submit(put)
    try:
        future.result(timeout=_remaining(until))
        return
    except FutureTimeout:
        raise Unconfirmed(f"{key}: the log did not answer within {settings.COMMIT_DEADLINE}s") from None
    except AlreadyExists:
        raise
    except LogUnavailable as exc:
        if exc.unsent:
            raise  # no attempt reached the log: surely not written
        failure = exc
    # A LogError that is not LogUnavailable is the log refusing the write (a 4xx): not written.
    logger.warning("commit of %s failed (%s); reading it back", key, failure)
    holds = read_back(log, key, data, until)
    if holds is True:
        return  # the put landed, its answer did not
    if holds is False:
        raise AlreadyExists(f"{key} holds another post") from failure
    raise Unconfirmed(f"{key}: the write failed ({failure}) and the log cannot say what it holds") from failure


def read(log: BaseLog, key: str, until: float) -> bytes:
    """log.read(key) answered by ``until``: the bytes; NotFound if absent; Unconfirmed if the log cannot say in time."""
    future: Future = _pool().submit(log.read, key)
    try:
        return future.result(timeout=_remaining(until))
    except FutureTimeout:
        raise Unconfirmed(f"{key}: the log did not answer a read in time") from None
    except NotFound:
        raise
    except LogError as exc:
        raise Unconfirmed(f"{key}: the log could not be read ({exc})") from exc


def read_back(log: BaseLog, key: str, data: bytes, until: float) -> bool | None:
    """Whether key holds data (True), other bytes (False), or the log cannot say in time (None).

    A key not found is None too: a PUT whose answer was lost may still land.
    """
    try:
        return read(log, key, until) == data
    except (NotFound, Unconfirmed):
        return None


class Listing:
    """The log as numbering sees it before it writes: listings answered by ``until``.

    Past the deadline a listing raises LogUnavailable marked unsent: the
    claims are listed before any write, so nothing of the post was written.
    Everything else goes to the log itself.
    """

    def __init__(self, log: BaseLog, until: float) -> None:
        self._log = log
        self._until = until

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        return iter(self._answered(prefix, lambda: list(self._log.list(prefix, start_after))))

    def first(self, prefix: str) -> ObjectInfo | None:
        return self._answered(prefix, lambda: self._log.first(prefix))

    def _answered(self, prefix: str, listing: Callable[[], T]) -> T:
        future: Future = _pool().submit(listing)
        try:
            return future.result(timeout=_remaining(self._until))
        except FutureTimeout:
            raise LogUnavailable(f"listing {prefix}: the log did not answer in time", unsent=True) from None

    def __getattr__(self, name: str):
        return getattr(self._log, name)
