"""The log-health census (board/lifecycle/health.py): one listing of the log, counted and kept for the page."""

from __future__ import annotations

import logging

from celery import shared_task

from board.lifecycle.health import census
from board.log import LogUnavailable, get_log
from board.store import StoreUnavailable, get_store

logger = logging.getLogger(__name__)


# No retries: the next run comes within UTAKATA_HEALTH_CENSUS_SECONDS, and the page says when a count is stale.
@shared_task(name="utakata.health.census", acks_late=True, ignore_result=True)
def count_log() -> None:
    """Count storage by class, fan-out lag, posts per hour and a backlog sample; keep them in the store."""
    try:
        record = census(get_log(), get_store())
    except (LogUnavailable, StoreUnavailable) as exc:
        logger.warning("health census skipped: %s", exc)
        return
    logger.info(
        "health census: %d post(s) not in the store yet, the oldest for %ss, in %ss",
        record["lag"]["posts"],
        record["lag"]["seconds"],
        record["seconds"],
    )
