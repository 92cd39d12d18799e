"""A thread's claims as one listing shows them: the highest number taken, and the numbers nobody wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from board.lifecycle.tail import pending
from board.log import ObjectInfo
from board.log.claims import ThreadClaims
from board.log.layout import FLOOR, floor_key, marker_key, parse_post_key, post_key

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def listed(*keys: str) -> ThreadClaims:
    claims = ThreadClaims()
    for key in keys:
        parsed = parse_post_key(key)
        assert parsed is not None
        claims.see(parsed)
    return claims


def claims_of(*numbers: int) -> list[str]:
    return [post_key("b", "1", n) for n in numbers]


def test_a_floor_key_names_its_thread_and_number():
    assert parse_post_key(floor_key("b", "1", 12)) == ("b", "1", 12, FLOOR)
    assert parse_post_key(floor_key("b", "1", 12)).marker


def test_a_thread_never_rolled_up_shows_its_gaps_from_the_first_post():
    assert listed(*claims_of(1, 2, 4, 6)).gaps() == [3, 5]


def test_above_the_floor_a_number_no_claim_holds_is_a_gap():
    claims = listed(floor_key("b", "1", 5), *claims_of(5, 7, 9))
    assert claims.gaps() == [6, 8]


def test_below_the_floor_a_missing_claim_is_not_a_gap():
    assert listed(floor_key("b", "1", 8), *claims_of(3, 8, 9)).gaps() == []


def test_the_newest_floor_counts():
    assert listed(floor_key("b", "1", 4), floor_key("b", "1", 8), *claims_of(8, 10)).gaps() == [9]


def test_a_thread_rolled_up_before_floors_were_kept_shows_no_gap():
    assert listed(*claims_of(5, 9), marker_key("b", "1", 5)).gaps() == []


def test_gaps_can_be_asked_below_a_number():
    assert listed(*claims_of(1, 3, 5, 7)).gaps(below=5) == [2, 4]


def test_the_highest_number_taken_counts_markers_and_floors():
    assert listed(*claims_of(1, 2), marker_key("b", "1", 3)).highest == 3
    assert listed(floor_key("b", "1", 4)).highest == 4
    assert not ThreadClaims()


def test_a_floor_holds_no_event_so_the_tail_leaves_it_out():
    keys = [floor_key("b", "1", 5), *claims_of(5, 6)]
    assert [info.key for info in pending(ObjectInfo(key=key, size=0, modified=NOW) for key in keys)] == claims_of(5, 6)
