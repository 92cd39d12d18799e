"""Post dates as 2ch prints them: 2026/12/01(火) 12:34:56.78, in Japan time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
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
    # The zone lookup is most of the cost (a rehydrate formats every post), and
    # Japan's offset only ever changed on the hour: within an hour that starts
    # on a whole minute, the minutes and seconds are the UTC ones.
    hour, into = divmod(seconds, 3600)
    prefix, whole = _hour_prefix(hour, weekdays)
    if whole:
        return f"{prefix}{into // 60:02d}:{into % 60:02d}.{millis // 10:02d}"
    # Adding to the epoch, unlike fromtimestamp(), works for any int on any platform.
    t = (_EPOCH + timedelta(seconds=seconds)).astimezone(JST)
    return f"{_date(t, weekdays)}{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{millis // 10:02d}"


@lru_cache(maxsize=4096)
def _hour_prefix(hour: int, weekdays: str) -> tuple[str, bool]:
    """``2026/12/01(火) 21:`` for the JST hour UTC hour ``hour`` starts, and whether it starts on a minute."""
    t = (_EPOCH + timedelta(seconds=hour * 3600)).astimezone(JST)
    return f"{_date(t, weekdays)}{t.hour:02d}:", t.minute == 0 and t.second == 0


def _date(t: datetime, weekdays: str) -> str:
    # Python counts Monday as 0; the board's string starts on Sunday.
    day = f"({weekdays[(t.weekday() + 1) % 7]})" if weekdays else ""
    return f"{t.year:04d}/{t.month:02d}/{t.day:02d}{day} "
