"""A board's local rules (ローカルルール): on its top page, and in head.txt for dedicated browsers."""

from __future__ import annotations

from django.test import Client

from board.boards import problems
from tests.helpers import make_board

RULES = "スレ立ては1日1回まで <b>\n\t荒らしは放置 & 通報\n"


def test_the_rules_are_on_the_boards_top_page_escaped_a_line_at_a_time() -> None:
    make_board(rules=RULES)
    html = Client().get("/test/").content.decode()
    assert "ローカルルール" in html
    assert "スレ立ては1日1回まで &lt;b&gt;<br>\t荒らしは放置 &amp; 通報" in html


def test_a_board_without_rules_shows_no_rules_box() -> None:
    make_board()
    assert "ローカルルール" not in Client().get("/test/").content.decode()


def test_head_txt_is_the_rules_in_shift_jis_each_line_ending_in_br() -> None:
    make_board(rules=RULES)
    response = Client().get("/test/head.txt")
    assert response["Content-Type"] == "text/html; charset=Shift_JIS"
    assert response.content == "スレ立ては1日1回まで &lt;b&gt;<br>\n\t荒らしは放置 &amp; 通報<br>\n".encode("cp932")


def test_head_txt_of_a_board_without_rules_is_empty() -> None:
    make_board()
    response = Client().get("/test/head.txt")
    assert response.status_code == 200 and response.content == b""


def test_head_txt_answers_304_while_the_board_is_unchanged() -> None:
    make_board(rules=RULES)
    etag = Client().get("/test/head.txt")["ETag"]
    assert Client().get("/test/head.txt", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_head_txt_of_no_board_is_404() -> None:
    assert Client().get("/nosuch/head.txt").status_code == 404


def test_rules_keep_their_newlines_and_tabs() -> None:
    assert problems({"rules": RULES}) == []


def test_a_control_character_in_the_rules_is_refused_by_name() -> None:
    assert any("U+0007" in problem for problem in problems({"rules": "ベル\x07"}))


def test_rules_past_4096_characters_are_refused() -> None:
    assert any("4097" in problem for problem in problems({"rules": "あ" * 4097}))
