"""The anti-spam rules: each refuses with its reason, writes nothing, and is a board setting."""

from __future__ import annotations

import time

from board.boards import UNLIMITED
from board.log import handler as log_handler
from board.posting import cooldown
from board.posting import refusals as r
from board.posting.poster_id import jst_day, poster_id
from tests.helpers import attempt, make_board, new_thread, refused, reply
from tests.services import free_port

MANY_ANCHORS = " ".join(f">>{n}" for n in range(1, 12))  # 11 anchors


def test_a_post_with_more_anchors_than_the_board_allows_is_refused_saying_how_many(board):
    thread = new_thread().thread
    refusal = refused("test", thread, body=MANY_ANCHORS)
    assert refusal.message == r.TOO_MANY_ANCHORS.format(count=11, limit=10)


def test_a_post_with_as_many_anchors_as_allowed_is_written(board):
    thread = new_thread().thread
    assert reply("test", thread, body=" ".join(f">>{n}" for n in range(1, 11))).number == 2


def test_anchor_ranges_count_once_and_urls_do_not_count(board):
    thread = new_thread().thread
    body = ">>1-5\n" + "\n".join(f"http://example.com/{n}" for n in range(15))
    assert reply("test", thread, body=body).number == 2


def test_a_line_longer_than_the_board_allows_is_refused_in_shift_jis_bytes(board):
    thread = new_thread().thread
    refusal = refused("test", thread, body="あ" * 129)  # 258 bytes in Shift_JIS
    assert refusal.message == r.LINE_TOO_LONG.format(size=258, limit=256)


def test_a_long_post_in_short_lines_is_written(board):
    thread = new_thread().thread
    assert reply("test", thread, body="\n".join(["あ" * 128] * 7)).number == 2


def test_the_same_body_twice_from_one_poster_is_refused_as_a_double_post():
    make_board("test", "テスト板", **(UNLIMITED | {"double_post_seconds": 300}))
    thread = new_thread().thread
    reply("test", thread, body="同じ内容")
    assert refused("test", thread, body="同じ内容").message == r.DOUBLE_POST


def test_the_same_body_in_another_thread_is_still_a_double_post():
    make_board("test", "テスト板", **(UNLIMITED | {"double_post_seconds": 300}))
    first, second = new_thread(body="一").thread, new_thread(body="二").thread
    reply("test", first, body="マルチポスト")
    assert refused("test", second, body="マルチポスト").message == r.DOUBLE_POST


def test_the_same_body_from_another_poster_is_written():
    make_board("test", "テスト板", **(UNLIMITED | {"double_post_seconds": 300}))
    thread = new_thread().thread
    reply("test", thread, body="同じ内容", address="192.0.2.1")
    assert reply("test", thread, body="同じ内容", address="192.0.2.2").number == 3


def test_a_post_refused_for_the_log_being_down_is_not_a_double_post_when_sent_again(settings):
    make_board("test", "テスト板", **(UNLIMITED | {"double_post_seconds": 300}))
    thread = new_thread().thread
    healthy = settings.UTAKATA_LOG
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "down",
        "OPTIONS": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "connect_timeout": "0.3", "max_attempts": "1"},
    }
    log_handler.reset()
    assert attempt("test", thread, "192.0.2.1", body="届かなかった").message == r.LOG_DOWN
    settings.UTAKATA_LOG = healthy
    log_handler.reset()
    assert reply("test", thread, body="届かなかった").number == 2


def test_a_poster_past_their_new_thread_limit_is_refused_but_may_still_reply():
    make_board("test", "テスト板", **(UNLIMITED | {"threads_per_poster": 2, "thread_window_minutes": 60}))
    first = new_thread(subject="一").thread
    new_thread(subject="二")
    assert refused("test", None, subject="三", body="本文三").message == r.TOO_MANY_THREADS
    assert reply("test", first).number == 2


def test_a_board_past_its_new_thread_limit_refuses_everyone():
    make_board("test", "テスト板", **(UNLIMITED | {"threads_per_board": 2, "thread_window_minutes": 60}))
    new_thread(subject="一", address="192.0.2.1")
    new_thread(subject="二", address="192.0.2.2")
    refusal = refused("test", None, subject="三", body="本文三", address="192.0.2.3")
    assert refusal.message == r.BOARD_TOO_MANY_THREADS


def test_a_thread_refused_for_the_limit_leaves_no_cooldown_behind(settings):
    make_board("test", "テスト板", **(UNLIMITED | {"threads_per_poster": 1, "cooldown": 30}))
    first = new_thread(subject="一").thread
    poster = poster_id(settings.ID_SECRET, "test", "192.0.2.1", jst_day(int(time.time() * 1000)))
    cooldown.cancel("test", poster)  # the first thread's cooldown ran out
    assert refused("test", None, subject="二", body="本文二").message == r.TOO_MANY_THREADS
    assert reply("test", first).number == 2


def test_a_poster_who_keeps_hitting_the_cooldown_waits_longer_each_time(board):
    assert cooldown.start("test", "ID", 10, 40) == 0
    assert cooldown.start("test", "ID", 10, 40) == 10  # a hit
    cooldown.cancel("test", "ID")  # the cooldown ran out
    assert cooldown.start("test", "ID", 10, 40) == 0
    assert cooldown.start("test", "ID", 10, 40) == 20  # doubled after one hit
    cooldown.cancel("test", "ID")
    cooldown.start("test", "ID", 10, 40)
    assert cooldown.start("test", "ID", 10, 40) == 40  # and capped by the board's cooldown_max


def test_without_escalation_the_cooldown_stays_as_set(board):
    for _ in range(3):
        cooldown.start("test", "ID", 10)
    cooldown.cancel("test", "ID")
    cooldown.start("test", "ID", 10)
    assert cooldown.start("test", "ID", 10) == 10


def test_every_rule_is_off_at_zero():
    make_board("test", "テスト板", **(UNLIMITED | {"anchors_max": 0, "column_max": 0}))
    thread = new_thread(subject="一", body=MANY_ANCHORS + " " + "あ" * 300).thread
    new_thread(subject="二", body=MANY_ANCHORS + " " + "あ" * 300)
    assert reply("test", thread, body=MANY_ANCHORS).number == 2


def test_the_rules_that_count_let_posts_through_when_the_cache_is_down(cache_down):
    make_board("test", "テスト板", **(UNLIMITED | {"double_post_seconds": 300, "threads_per_poster": 1}))
    new_thread(subject="一", body="同じ内容")
    assert new_thread(subject="二", body="同じ内容").number == 1
