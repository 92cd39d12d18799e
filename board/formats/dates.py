"""Post dates as 2ch prints them: 2026/12/01(火) 12:34:56.78, in Japan time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_WEEKDAYS = "日月火水木金土"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def post_date(ms: int, weekdays: str = DEFAULT_WEEKDAYS) -> str:
    """Format a post time (unix ms, UTC) in JST with centiseconds, truncated not rounded.

    ``weekdays`` is the board's setting: seven characters, Sunday first. An
    empty string leaves the weekday out, as 0ch+ does for an empty BBS_YMD_WEEKS.
    """
    if weekdays and len(weekdays) != 7:
        raise ValueError(f"weekdays must be 7 characters, Sunday first, got {weekdays!r}")
    # divmod floors, so times before 1970 still get a centisecond in 0..99.
    seconds, millis = divmod(ms, 1000)
    # Adding to the epoch, unlike fromtimestamp(), works for any int on any platform.
    t = (_EPOCH + timedelta(seconds=seconds)).astimezone(JST)
    # Python counts Monday as 0; the board's string starts on Sunday.
    day = f"({weekdays[(t.weekday() + 1) % 7]})" if weekdays else ""
    return f"{t.year:04d}/{t.month:02d}/{t.day:02d}{day} {t.hour:02d}:{t.minute:02d}:{t.second:02d}.{millis // 10:02d}"
