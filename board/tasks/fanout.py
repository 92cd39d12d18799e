"""Fan-out: apply a committed event to the store."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from board.events import decode
from board.lifecycle import state as logstate
from board.log import LogUnavailable, NotFound, get_log
from board.ops import logformat, metrics
from board.posting import numbers
from board.readmodel import projection
from board.store import StoreUnavailable, get_store

logger = logging.getLogger(__name__)


def apply_key(key: str, missing_ok: bool = False) -> bool:
    """Read the event at key from the log and apply it; False if it is not there.

    An event gone from incoming/ was rolled up, and rollup applies what it
    rolls up; missing_ok is for callers asking whether an event exists at all.
    """
    try:
        data = get_log().read(key)
    except NotFound:
        if not missing_ok:
            logger.warning("fan-out: %s is gone from the log (rolled up); skipped", key)
        return False
    event = decode(data)
    with logformat.about(event):
        projection.apply(get_store(), event)
    lag = max(0.0, time.time() - event.time / 1000)
    metrics.FANOUT_LAG.observe(lag)
    logstate.record_fanout_lag(lag)
    return True


@shared_task(
    name="utakata.fanout.apply",
    acks_late=True,
    autoretry_for=(LogUnavailable, StoreUnavailable),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
)
def apply_logged(key: str) -> None:
    """Apply the committed event stored at key. Idempotent, so redelivery is harmless."""
    try:
        apply_key(key)
    except (LogUnavailable, StoreUnavailable) as exc:
        metrics.count_error("store" if isinstance(exc, StoreUnavailable) else "log", exc)
        raise


@shared_task(name="utakata.numbers.sweep", acks_late=True)
def sweep_numbers() -> None:
    """Settle the res numbers whose posters died holding them, so that their threads' dats go on."""
    for line in numbers.sweep(get_log()):
        logger.warning("number sweep: %s", line)
