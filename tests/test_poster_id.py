"""The daily poster ID: stable for a day, board and address; different otherwise."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from board.posting.poster_id import jst_day, poster_id

SECRET = "test-id-secret"
DAY = date(2024, 5, 1)
ADDRESS = "203.0.113.7"


def test_it_is_eight_base64_characters():
    assert re.fullmatch(r"[A-Za-z0-9+/]{8}", poster_id(SECRET, "news", ADDRESS, DAY))


def test_same_inputs_give_the_same_id():
    assert poster_id(SECRET, "news", ADDRESS, DAY) == poster_id(SECRET, "news", ADDRESS, DAY)


def test_it_has_not_changed_since_it_was_written():
    # Pinned from this implementation, not an outside vector: changing the
    # derivation would change every poster's ID mid-day.
    assert poster_id(SECRET, "news", ADDRESS, DAY) == "E6s1zs4T"


def test_another_day_gives_another_id():
    assert poster_id(SECRET, "news", ADDRESS, DAY) != poster_id(SECRET, "news", ADDRESS, date(2024, 5, 2))


def test_another_board_gives_another_id():
    assert poster_id(SECRET, "news", ADDRESS, DAY) != poster_id(SECRET, "tech", ADDRESS, DAY)


def test_another_address_gives_another_id():
    assert poster_id(SECRET, "news", ADDRESS, DAY) != poster_id(SECRET, "news", "203.0.113.8", DAY)


def test_another_secret_gives_another_id():
    assert poster_id(SECRET, "news", ADDRESS, DAY) != poster_id("other", "news", ADDRESS, DAY)


def test_fields_do_not_run_into_each_other():
    assert poster_id(SECRET, "ab", "c", DAY) != poster_id(SECRET, "a", "bc", DAY)


def test_it_refuses_an_empty_secret():
    with pytest.raises(ValueError):
        poster_id("", "news", ADDRESS, DAY)


def test_it_refuses_a_datetime_for_the_day():
    with pytest.raises(TypeError):
        poster_id(SECRET, "news", ADDRESS, datetime(2024, 5, 1, 12, 0))


def test_jst_day_is_still_the_same_day_just_before_midnight_jst():
    # 2024-05-01 14:59:59.999 UTC is 23:59:59.999 JST.
    assert jst_day(1714575599999) == date(2024, 5, 1)


def test_jst_day_turns_at_midnight_jst():
    # 2024-05-01 15:00:00.000 UTC is 2024-05-02 00:00 JST.
    assert jst_day(1714575600000) == date(2024, 5, 2)


def test_jst_day_is_ahead_of_the_utc_day_in_the_morning():
    # 2024-05-01 00:30 UTC is 09:30 JST the same day; 2024-04-30 23:30 UTC is 08:30 JST on 05-01.
    assert jst_day(1714523400000) == date(2024, 5, 1)
    assert jst_day(1714519800000) == date(2024, 5, 1)


def test_id_changes_when_the_jst_day_does():
    before = poster_id(SECRET, "news", ADDRESS, jst_day(1714575599999))
    after = poster_id(SECRET, "news", ADDRESS, jst_day(1714575600000))
    assert before != after
