"""Helpers for the purge tests: a post published, rolled up, snapshotted, bundled and deleted; the log's bytes."""

from __future__ import annotations

import gzip

from board.boards import UNLIMITED
from board.log import get_log
from board.log.memory import MemoryLog, _buckets, _lock
from tests.lifecycle_helpers import Timeline, maintain

DAY = 60 * 24
SECRET = "090-1234-5678"  # what must not be kept: a phone number


def stored(log=None) -> dict[str, bytes]:
    """Every object of the in-memory log as stored (archived ones too), gzip objects unzipped."""
    log = log or get_log()
    assert isinstance(log, MemoryLog)
    with _lock:
        bucket = _buckets.get(log.location)
        objects = {key: obj.data for key, obj in bucket.objects.items()} if bucket else {}
    return {key: gzip.decompress(data) if key.endswith(".gz") else data for key, data in sorted(objects.items())}


def holders(secret: str = SECRET, objects: dict[str, bytes] | None = None) -> list[str]:
    """The keys of the objects whose bytes hold secret."""
    objects = stored() if objects is None else objects
    return [key for key, data in objects.items() if secret.encode() in data]


def published_and_deleted() -> tuple[Timeline, str]:
    """Post 3 of a thread holds SECRET; it is in day 1's bundle and the first snapshot, then deleted (あぼーん).

    The second snapshot, built after the deletion, holds it compacted (no text).
    """
    t = Timeline()
    t.board(0, title="テスト板", **UNLIMITED)
    thread = t.thread(10, body="スレ本文")
    t.reply(30, thread, body="普通のレス")
    t.reply(40, thread, body=f"電話番号は {SECRET} です")
    t.reply(50, thread, body="もうひとつ")
    maintain(DAY + 90)
    t.delete(DAY + 100, thread, 3)
    t.reply(DAY + 110, thread, body="翌日のレス")
    maintain(2 * DAY + 90)
    return t, thread
