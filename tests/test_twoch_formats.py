"""subject.txt, SETTING.TXT and bbsmenu as bytes: the shapes clients parse."""

from __future__ import annotations

import json

from board.boards import with_defaults
from board.formats.bbsmenu import MenuBoard, bbsmenu_html, bbsmenu_json
from board.formats.setting import setting_txt
from board.formats.subject import SubjectRow, subject_txt


def test_subject_line_is_key_dat_title_and_count() -> None:
    assert subject_txt([SubjectRow("1700000000", "スレタイ", 12)]) == "1700000000.dat<>スレタイ (12)\n".encode("cp932")


def test_subject_rows_keep_the_order_given() -> None:
    rows = [SubjectRow("2", "b", 1), SubjectRow("1", "a", 1)]
    assert subject_txt(rows).decode("cp932").splitlines() == ["2.dat<>b (1)", "1.dat<>a (1)"]


def test_subject_title_is_escaped_like_the_dats_first_line() -> None:
    assert subject_txt([SubjectRow("1", '<b>&"♥', 1)]) == b"1.dat<>&lt;b&gt;&amp;&quot;&#9829; (1)\n"


def test_empty_board_has_an_empty_subject_txt() -> None:
    assert subject_txt([]) == b""


def setting_lines(**settings) -> list[str]:
    board = with_defaults({"title": "テスト板", **settings}) | {"name": "test"}
    return setting_txt(board).decode("cp932").split("\n")


def test_setting_txt_starts_with_the_board_at_itself() -> None:
    assert setting_lines()[0] == "test@test"


def test_setting_txt_ends_with_lf_and_has_no_cr() -> None:
    data = setting_txt(with_defaults({"title": "t"}) | {"name": "test"})
    assert data.endswith(b"\n") and b"\r" not in data


def test_setting_txt_has_every_key_clients_read() -> None:
    keys = {line.split("=", 1)[0] for line in setting_lines() if "=" in line}
    assert keys >= {
        "BBS_TITLE",
        "BBS_TITLE_ORIG",
        "BBS_NONAME_NAME",
        "BBS_LINE_NUMBER",
        "BBS_SUBJECT_COUNT",
        "BBS_NAME_COUNT",
        "BBS_MAIL_COUNT",
        "BBS_MESSAGE_COUNT",
        "BBS_THREAD_STOP",
        "BBS_UNICODE",
        "BBS_FORCE_ID",
        "BBS_NO_ID",
    }


def test_setting_values_come_from_the_board() -> None:
    lines = setting_lines(noname="名無しの権兵衛", subject_max=48, name_max=32, mail_max=16, body_max=1024, res_max=500)
    assert {
        "BBS_TITLE=テスト板",
        "BBS_NONAME_NAME=名無しの権兵衛",
        "BBS_SUBJECT_COUNT=48",
        "BBS_NAME_COUNT=32",
        "BBS_MAIL_COUNT=16",
        "BBS_MESSAGE_COUNT=1024",
        "BBS_THREAD_STOP=500",
    } <= set(lines)


def test_line_number_is_half_the_line_limit() -> None:
    assert "BBS_LINE_NUMBER=16" in setting_lines(lines_max=32)


def test_odd_line_limit_rounds_down_so_clients_never_offer_too_many() -> None:
    assert "BBS_LINE_NUMBER=5" in setting_lines(lines_max=11)


def test_forced_ids_are_checked() -> None:
    lines = setting_lines(force_id=True)
    assert "BBS_FORCE_ID=checked" in lines and "BBS_NO_ID=" in lines


def test_no_ids_are_said_as_no_id() -> None:
    lines = setting_lines(force_id=False)
    assert "BBS_FORCE_ID=" in lines and "BBS_NO_ID=checked" in lines


def test_unicode_passes_through_as_references() -> None:
    assert "BBS_UNICODE=pass" in setting_lines()


def test_the_cooldown_and_line_width_are_advertised_as_samba_and_column() -> None:
    assert {"BBS_SAMBATIME=45", "BBS_COLUMN_NUMBER=300"} <= set(setting_lines(cooldown=45, column_max=300))


def test_a_newline_in_a_setting_cannot_forge_a_key() -> None:
    assert "BBS_NONAME_NAME=a BBS_NO_ID=checked" in setting_lines(noname="a\nBBS_NO_ID=checked")


BOARDS = [MenuBoard("news", "ニュース速報"), MenuBoard("test", "テスト<板>")]


def test_bbsmenu_html_has_the_category_line_clients_look_for() -> None:
    assert "<BR><BR><B>うたかた</B><BR>" in bbsmenu_html(BOARDS, "http://bbs.example/", "うたかた").decode("cp932")


def test_bbsmenu_html_has_one_unquoted_link_per_board_line() -> None:
    lines = bbsmenu_html(BOARDS, "http://bbs.example", "うたかた").decode("cp932").splitlines()
    assert "<A HREF=http://bbs.example/news/>ニュース速報</A><br>" in lines
    assert "<A HREF=http://bbs.example/test/>テスト&lt;板&gt;</A><br>" in lines


def test_bbsmenu_html_is_shift_jis() -> None:
    assert "ニュース速報".encode("cp932") in bbsmenu_html(BOARDS, "http://bbs.example/", "うたかた")


def test_bbsmenu_json_lists_boards_in_5chs_layout() -> None:
    menu = json.loads(bbsmenu_json(BOARDS, "http://bbs.example/", "うたかた", 1_700_000_000_000))
    [category] = menu["menu_list"]
    assert category["category_name"] == "うたかた" and category["category_total"] == 2
    assert category["category_content"][0] == {
        "board_name": "ニュース速報",
        "category": 1,
        "category_name": "うたかた",
        "category_order": 1,
        "directory_name": "news",
        "url": "http://bbs.example/news/",
    }
    assert menu["last_modify"] == 1_700_000_000
