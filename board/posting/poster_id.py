"""The daily poster ID: the same poster on the same board gets the same ID all day.

As on 2ch the ID changes at midnight JST and differs between boards, so it
links posts within a day on one board and nothing more. It is a keyed hash of
the address: only the ID is ever stored, never the address, and without the
secret the small IPv4 space cannot be searched for the address behind an ID.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")
ID_LENGTH = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def jst_day(ms: int) -> date:
    """The JST calendar day of a time in milliseconds since the epoch."""
    # timedelta arithmetic is exact; fromtimestamp(ms / 1000) goes through a float.
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(JST).date()


def poster_id(secret: str, board: str, address: str, day: date) -> str:
    """The 8-character ID ([A-Za-z0-9+/]) of ``address`` on ``board`` on the JST ``day``."""
    if not secret:
        raise ValueError("the poster ID secret is empty")
    if isinstance(day, datetime):
        # A datetime is a date too, but its isoformat() has the time in it,
        # which would give a new ID every instant; pass jst_day(...) instead.
        raise TypeError("day must be a date (see jst_day), not a datetime")
    # A JSON array keeps the fields apart: ("a", "bc") and ("ab", "c") differ.
    message = json.dumps([day.isoformat(), board, address], ensure_ascii=False).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    # 6 bytes are exactly 8 base64 characters, with no padding.
    return base64.b64encode(digest[:6]).decode("ascii")
