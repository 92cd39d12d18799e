"""Post dates in 2ch's format, in Japan time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from board.formats.dates import post_date


def ms(*args: int) -> int:
    """Unix milliseconds for a UTC wall-clock time; the last argument is milliseconds."""
    *fields, millis = args
    return int(datetime(*fields, tzinfo=UTC).timestamp()) * 1000 + millis


def test_format_matches_2ch() -> None:
    assert post_date(ms(2026, 12, 1, 3, 34, 56, 780)) == "2026/12/01(火) 12:34:56.78"


def test_time_is_shown_in_japan_time() -> None:
    assert post_date(ms(2026, 6, 15, 0, 0, 0, 0)) == "2026/06/15(月) 09:00:00.00"


def test_late_utc_evening_is_the_next_day_in_japan() -> None:
    assert post_date(ms(2026, 12, 31, 15, 0, 0, 0)) == "2027/01/01(金) 00:00:00.00"


def test_weekday_follows_the_japan_date_not_the_utc_one() -> None:
    # Saturday 20:00 UTC is already Sunday in Japan.
    assert post_date(ms(2026, 3, 7, 20, 0, 0, 0)).startswith("2026/03/08(日)")


def test_milliseconds_are_truncated_to_centiseconds() -> None:
    assert post_date(ms(2026, 12, 1, 3, 34, 56, 999)).endswith("12:34:56.99")


def test_milliseconds_below_ten_show_as_zero_centiseconds() -> None:
    assert post_date(ms(2026, 12, 1, 3, 34, 56, 9)).endswith("12:34:56.00")


def test_truncation_never_rounds_into_the_next_second() -> None:
    assert post_date(ms(2026, 12, 1, 14, 59, 59, 995)) == "2026/12/01(火) 23:59:59.99"


def test_custom_weekdays_are_used() -> None:
    weekdays = "SMTWtFs"
    assert post_date(ms(2026, 12, 1, 3, 34, 56, 780), weekdays) == "2026/12/01(T) 12:34:56.78"


@pytest.mark.parametrize(
    ("day", "expected"),
    [(6, "日"), (7, "月"), (8, "火"), (9, "水"), (10, "木"), (11, "金"), (12, "土")],
)
def test_every_weekday_maps_sunday_first(day: int, expected: str) -> None:
    # 2026-12-06 is a Sunday; 03:00 UTC is noon the same day in Japan.
    assert post_date(ms(2026, 12, day, 3, 0, 0, 0))[10:13] == f"({expected})"


def test_empty_weekdays_leave_the_weekday_out() -> None:
    assert post_date(ms(2026, 12, 1, 3, 34, 56, 780), "") == "2026/12/01 12:34:56.78"


def test_weekdays_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="7 characters"):
        post_date(0, "月火水木金")


def test_epoch_is_nine_in_the_morning_in_japan() -> None:
    assert post_date(0) == "1970/01/01(木) 09:00:00.00"


def test_time_before_the_epoch_counts_back_correctly() -> None:
    assert post_date(-1) == "1970/01/01(木) 08:59:59.99"
