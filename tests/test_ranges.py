"""read.cgi thread ranges, with 2ch's rules for when >>1 comes along."""

from __future__ import annotations

import pytest

from board.formats.ranges import ALL, Range, parse_range


def shown(text: str, count: int = 200) -> list[int]:
    return parse_range(text).numbers(count)


def test_empty_range_is_the_whole_thread() -> None:
    assert shown("", 5) == [1, 2, 3, 4, 5]


def test_empty_range_parses_to_all() -> None:
    assert parse_range("") == ALL == Range()


def test_l50_includes_first_post() -> None:
    assert shown("l50")[0] == 1


def test_l50_is_fifty_posts_counting_the_first() -> None:
    assert shown("l50") == [1, *range(152, 201)]


def test_l50n_is_the_last_fifty_without_first_post() -> None:
    assert shown("l50n") == list(range(151, 201))


def test_l50_in_a_short_thread_shows_every_post_once() -> None:
    assert shown("l50", 30) == list(range(1, 31))


def test_l1_is_the_last_post_alone() -> None:
    assert shown("l1") == [200]


def test_single_number_shows_that_post_alone() -> None:
    assert shown("50") == [50]


def test_single_number_with_n_is_the_same_post_alone() -> None:
    assert shown("50n") == [50]


def test_single_first_post_shows_it() -> None:
    assert shown("1") == [1]


def test_span_from_one_shows_it_once() -> None:
    assert shown("1-100") == list(range(1, 101))


def test_span_from_one_with_n_still_shows_post_one() -> None:
    assert shown("1-10n") == list(range(1, 11))


def test_later_span_includes_first_post() -> None:
    assert shown("50-100") == [1, *range(50, 101)]


def test_later_span_with_n_leaves_first_post_out() -> None:
    assert shown("50-100n") == list(range(50, 101))


def test_open_span_runs_to_the_end_with_first_post() -> None:
    assert shown("195-") == [1, 195, 196, 197, 198, 199, 200]


def test_open_span_with_n_runs_to_the_end_without_first_post() -> None:
    assert shown("195-n") == [195, 196, 197, 198, 199, 200]


def test_span_to_a_number_starts_at_one() -> None:
    assert shown("-5") == [1, 2, 3, 4, 5]


def test_reversed_span_is_swapped() -> None:
    assert parse_range("100-50") == parse_range("50-100")


def test_bare_n_is_everything_but_the_first_post() -> None:
    assert shown("n", 5) == [2, 3, 4, 5]


def test_span_is_clipped_to_the_thread() -> None:
    assert shown("8-20", 10) == [1, 8, 9, 10]


def test_span_past_the_end_shows_only_first_post() -> None:
    assert shown("50-", 10) == [1]


def test_span_past_the_end_with_n_shows_nothing() -> None:
    assert shown("50-n", 10) == []


def test_single_post_past_the_end_shows_nothing() -> None:
    assert shown("50", 10) == []


def test_empty_thread_shows_nothing() -> None:
    assert shown("l50", 0) == []


def test_numbers_are_ascending_and_unique() -> None:
    for text in ("", "l50", "l50n", "1-100", "50-", "-100", "50", "3-3", "n"):
        numbers = shown(text, 120)
        assert numbers == sorted(set(numbers)), text


@pytest.mark.parametrize("text", ["", "l50", "l50n", "l1n", "-100", "50-", "50-n", "50-100", "50-100n", "50", "2-n"])
def test_str_round_trips(text: str) -> None:
    assert str(parse_range(text)) == text


@pytest.mark.parametrize("text", ["1-100", "50n", "n", "100-50", "-100n", "l1"])
def test_str_of_any_range_parses_back_to_it(text: str) -> None:
    r = parse_range(text)
    assert parse_range(str(r)) == r


def test_range_is_frozen() -> None:
    with pytest.raises(AttributeError):
        parse_range("l50").latest = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["abc", "l", "ln", "-", "-n", "1-2-3", "50nn", "n50", "l50-", " 50", "50 ", "１２", "+5", "5.5"],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="thread range"):
        parse_range(text)


def test_garbage_error_names_the_input() -> None:
    with pytest.raises(ValueError, match="'abc'"):
        parse_range("abc")


@pytest.mark.parametrize("text", ["0", "0-5", "l0", "5-0"])
def test_post_zero_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        parse_range(text)


def test_absurdly_long_number_is_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_range("9" * 5000)
