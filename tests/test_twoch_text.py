"""subject.txt, SETTING.TXT and bbsmenu over HTTP: generated from the store, Shift_JIS, conditional."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.test import Client

from board.boards import UNLIMITED
from board.events import EventType, new_event
from board.moderation.actions import archive_thread
from board.posting.commit import commit
from board.twoch import conditional
from tests.helpers import apply_pending, make_board, new_thread, reply


def get(path: str, **headers):
    return Client().get(path, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def test_subject_txt_lists_threads_most_recently_bumped_first(board) -> None:
    old = new_thread(subject="古い").thread
    new = new_thread(subject="新しい").thread
    reply("test", old, body="上げ")
    lines = get("/test/subject.txt").content.decode("cp932").splitlines()
    assert lines == [f"{old}.dat<>古い (2)", f"{new}.dat<>新しい (1)"]


def test_sage_does_not_bump(board) -> None:
    old = new_thread(subject="古い").thread
    new = new_thread(subject="新しい").thread
    reply("test", old, body="下げ", mail="sage")
    assert get("/test/subject.txt").content.decode("cp932").splitlines()[0].startswith(f"{new}.dat")


def test_subject_txt_is_shift_jis_text(board) -> None:
    new_thread(subject="スレ")
    response = get("/test/subject.txt")
    assert response["Content-Type"] == "text/plain; charset=Shift_JIS" and "スレ".encode("cp932") in response.content


def test_fallen_threads_leave_subject_txt(board) -> None:
    key = new_thread(subject="落ちる").thread
    archive_thread("test", key)
    apply_pending()
    assert get("/test/subject.txt").content == b""


def test_full_thread_counts_its_stop_line() -> None:
    make_board("small", "小さい板", **UNLIMITED, res_max=2)
    key = new_thread("small").thread
    reply("small", key)
    assert get("/small/subject.txt").content.decode("cp932") == f"{key}.dat<>スレタイ (3)\n"


def test_unchanged_subject_txt_is_304(board) -> None:
    new_thread()
    etag = get("/test/subject.txt")["ETag"]
    assert get("/test/subject.txt", if_none_match=etag).status_code == 304


def test_subject_txt_of_an_unknown_board_is_404() -> None:
    assert get("/nosuch/subject.txt").status_code == 404


def test_setting_txt_comes_from_the_boards_settings() -> None:
    make_board("news", "ニュース速報", noname="名無しさん＠お腹いっぱい。", res_max=1000)
    text = get("/news/SETTING.TXT").content.decode("cp932")
    assert "BBS_TITLE=ニュース速報\n" in text and "BBS_NONAME_NAME=名無しさん＠お腹いっぱい。\n" in text


def test_setting_txt_of_an_unknown_board_is_404() -> None:
    assert get("/nosuch/SETTING.TXT").status_code == 404


def test_bbsmenu_html_links_every_board() -> None:
    make_board("news", "ニュース速報")
    make_board("test", "テスト板")
    text = get("/bbsmenu.html").content.decode("cp932")
    assert "<A HREF=http://testserver/news/>ニュース速報</A><br>" in text
    assert "<A HREF=http://testserver/test/>テスト板</A><br>" in text


def test_bbsmenu_json_lists_every_board() -> None:
    make_board("news", "ニュース速報")
    response = get("/bbsmenu.json")
    menu = json.loads(response.content)
    assert response["Content-Type"] == "application/json"
    assert [b["directory_name"] for b in menu["menu_list"][0]["category_content"]] == ["news"]


def test_a_thread_falling_moves_subject_txts_last_modified(board, monkeypatch) -> None:
    keep = new_thread(subject="残る").thread
    fall = new_thread(subject="落ちる").thread
    monkeypatch.setattr(conditional, "now_ms", lambda: 10**15)  # long settled
    since = get("/test/subject.txt")["Last-Modified"]
    assert get("/test/subject.txt", if_modified_since=since).status_code == 304
    commit(new_event(EventType.THREAD_ARCHIVED, "test", fall, at=datetime.now(UTC) + timedelta(seconds=2)))
    apply_pending()
    response = get("/test/subject.txt", if_modified_since=since)
    assert response.status_code == 200 and response.content.decode("cp932") == f"{keep}.dat<>残る (1)\n"
