"""The write path: what is accepted, what is refused, and that a refusal writes nothing."""

from __future__ import annotations

import pytest

from board.boards import UNLIMITED
from board.log import get_log
from board.log import handler as log_handler
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from tests.helpers import apply_pending, attempt, log_keys, make_board, new_thread, refused, reply
from tests.lifecycle_helpers import archived_threads
from tests.services import free_port


def test_new_thread_is_committed_as_post_one(board):
    posted = new_thread(subject="はじめまして", body="こんにちは")
    assert posted.number == 1
    thread = queries.thread(get_store(), "test", posted.thread)
    assert thread.title == "はじめまして" and thread.count == 1
    assert log_keys()[-1].endswith(f"/{posted.thread}/0001.json")


def test_replies_are_numbered_in_order(board):
    thread = new_thread().thread
    numbers = [reply("test", thread, body=f"{i}").number for i in range(5)]
    assert numbers == [2, 3, 4, 5, 6]


def test_empty_name_becomes_the_boards_default(board):
    posted = new_thread()
    [post] = queries.posts(get_store(), "test", posted.thread, [1])
    assert post["name"] == "名無しさん"


def test_tripcode_is_rendered_into_the_name(board):
    posted = new_thread(name="山田#istrip")
    [post] = queries.posts(get_store(), "test", posted.thread, [1])
    assert post["name"].startswith("山田 ◆") and len(post["name"].split("◆")[1]) == 10


def test_daily_id_is_stored_not_the_address(board):
    posted = new_thread(address="203.0.113.7")
    [post] = queries.posts(get_store(), "test", posted.thread, [1])
    assert len(post["id"]) == 8
    assert "203.0.113.7" not in get_log().read(log_keys()[-1]).decode()


def test_sage_does_not_bump(board):
    old = new_thread(subject="古い").thread
    new = new_thread(subject="新しい").thread
    reply("test", old, mail="sage")
    assert [t.key for t in queries.threads(get_store(), "test")][0] == new
    reply("test", old)
    assert [t.key for t in queries.threads(get_store(), "test")][0] == old


def test_two_threads_in_one_second_get_consecutive_keys(board, monkeypatch):
    monkeypatch.setattr("time.time", lambda: 1_800_000_000.5)
    a, b = new_thread().thread, new_thread().thread
    assert (a, b) == ("1800000000", "1800000001")


def test_unknown_board_is_refused(board):
    assert refused("nope", None, subject="x", body="y").message == r.NO_BOARD


def test_unknown_thread_is_refused(board):
    assert refused("test", "1234567890", body="y").message == r.NO_THREAD


def test_empty_body_is_refused(board):
    assert refused("test", None, subject="x", body=" \n \n").message == r.NO_BODY


def test_new_thread_without_subject_is_refused(board):
    assert refused("test", None, body="本文").message == r.NO_SUBJECT


def test_too_long_body_is_refused_in_sjis_bytes():
    make_board("tiny", "小", **UNLIMITED, body_max=10)
    assert refused("tiny", None, subject="x", body="あいうえおか").message.startswith("本文が長すぎます")


def test_too_long_name_is_refused():
    make_board("tiny", "小", **UNLIMITED, name_max=4)
    assert refused("tiny", None, subject="x", body="y", name="あいう").message.startswith("名前が長すぎます")


def test_too_long_mail_is_refused():
    make_board("tiny", "小", **UNLIMITED, mail_max=4)
    refusal = refused("tiny", None, subject="x", body="y", mail="sage!")
    assert refusal.message.startswith("メール欄が長すぎます")


def test_too_long_subject_is_refused():
    make_board("tiny", "小", **UNLIMITED, subject_max=4)
    message = refused("tiny", None, subject="長いタイトル", body="y").message
    assert message.startswith("サブジェクトが長すぎます")


def test_too_many_lines_are_refused():
    make_board("tiny", "小", **UNLIMITED, lines_max=3)
    assert refused("tiny", None, subject="x", body="1\n2\n3\n4").message.startswith("改行が多すぎます")


def test_cooldown_refuses_a_second_post_from_the_same_address():
    make_board("slow", "遅", cooldown=30)
    new_thread("slow", address="198.51.100.1")
    refusal = refused("slow", None, subject="x", body="y", address="198.51.100.1")
    assert refusal.message.startswith("連続投稿ですか") and 1 <= refusal.wait_seconds <= 30


def test_cooldown_is_per_address():
    make_board("slow", "遅", cooldown=30)
    new_thread("slow", address="198.51.100.1")
    assert new_thread("slow", address="198.51.100.2").number == 1


def test_a_full_thread_refuses_more_replies():
    make_board("small", "小", **UNLIMITED, res_max=3)
    thread = new_thread("small").thread
    reply("small", thread)
    reply("small", thread)
    assert refused("small", thread, body="4").message == r.STOPPED.format(limit=3)


def test_past_the_thread_cap_the_least_bumped_thread_falls_off():
    make_board("cap", "上限", **UNLIMITED, thread_cap=2)
    first = new_thread("cap", subject="一").thread
    second = new_thread("cap", subject="二").thread
    reply("cap", first)  # first is now bumped above second
    third = new_thread("cap", subject="三").thread
    apply_pending()
    assert [t.key for t in queries.threads(get_store(), "cap")] == [third, first]
    assert [t.key for t in archived_threads("cap")] == [second]


def test_an_archived_thread_refuses_replies():
    make_board("cap", "上限", **UNLIMITED, thread_cap=1)
    old = new_thread("cap", subject="一").thread
    new_thread("cap", subject="二")
    apply_pending()
    assert refused("cap", old, body="y").message == r.ARCHIVED


def test_log_down_refuses_and_lets_the_poster_retry(settings):
    make_board("slow", "遅", cooldown=30)
    thread = new_thread("slow", address="198.51.100.8").thread
    healthy, before = settings.UTAKATA_LOG, log_keys()
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "bucket",
        "OPTIONS": {
            "endpoint_url": f"http://127.0.0.1:{free_port()}",
            "connect_timeout": "0.5",
            "max_attempts": "1",
        },
    }
    log_handler.reset()
    refusal = attempt("slow", None, subject="x", body="y", address="198.51.100.9")
    assert refusal.message == r.LOG_DOWN and refusal.status == 503
    assert attempt("slow", thread, body="y", address="198.51.100.10").message == r.LOG_DOWN
    settings.UTAKATA_LOG = healthy
    log_handler.reset()
    assert log_keys() == before
    assert new_thread("slow", address="198.51.100.9").number == 1, "a failed post must not start a cooldown"


def test_a_reply_right_after_the_thread_was_made_finds_it_before_fan_out(board):
    posted = submit("test", None, Submission(subject="速い", body="1"), "192.0.2.1")  # no worker has run
    assert submit("test", posted.thread, Submission(body="2"), "192.0.2.1").number == 2


def test_a_reply_to_a_key_that_is_not_a_number_is_refused(board):
    assert refused("test", "../../etc", body="y").message == r.NO_THREAD


# --- characters that pose as something else (board/posting/characters.py) ------------------------


@pytest.mark.parametrize(
    "typed, named",
    [
        ("右から左\u202eへ", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("C1\u0085制御", "U+0085"),
        ("行\u2028区切り", "U+2028 LINE SEPARATOR"),
        ("私用\uf8f0", "U+F8F0 PRIVATE USE"),
    ],
)
def test_controls_direction_overrides_and_private_use_are_refused_by_name_and_write_nothing(board, typed, named):
    thread = new_thread().thread
    before = log_keys()
    with pytest.raises(Refused) as refusal:
        submit("test", thread, Submission(body=typed), "192.0.2.1")
    assert named in refusal.value.message and refusal.value.status == 400
    assert log_keys() == before


def test_invisible_characters_are_removed(board):
    thread = new_thread().thread
    reply("test", thread, body="見え\u200bない\ufeff文字", name="名\u200d前")
    [post] = queries.posts(get_store(), "test", thread, [2])
    assert post["body"] == "見えない文字" and post["name"] == "名前"


def test_look_alikes_of_the_trip_and_cap_marks_in_names_become_hollow(board):
    thread = new_thread().thread
    reply("test", thread, name="偽♦trip ✭")
    [post] = queries.posts(get_store(), "test", thread, [2])
    assert post["name"] == "偽◇trip ☆"
