"""POST /test/bbs.cgi: what dedicated browsers send, and the pages they parse in return."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest
from django.test import Client

from board.readmodel import queries
from board.store import get_store
from board.twoch.bbscgi import form_charset, parse_form, unescape_references
from tests.helpers import apply_pending, log_keys, make_board, new_thread

FORM = "application/x-www-form-urlencoded"


def encoded(charset: str = "cp932", **fields: str) -> bytes:
    return "&".join(f"{k}={quote_plus(v, encoding=charset)}" for k, v in fields.items()).encode("ascii")


def post(body: bytes, content_type: str = FORM, client: Client | None = None, address: str = "198.51.100.9"):
    # generic(), not post(): the test client would re-encode the body into the declared charset.
    return (client or Client()).generic("POST", "/test/bbs.cgi", body, content_type, REMOTE_ADDR=address)


def reply_form(thread: str, message: str = "レス", **extra: str) -> dict[str, str]:
    return {"bbs": "test", "key": thread, "time": "1700000000", "FROM": "", "mail": "", "MESSAGE": message, **extra}


def page(response, charset: str = "cp932") -> str:
    return response.content.decode(charset)


def jdim_error(html: str) -> str:
    """The error JDim shows: the first <b>…</b> of the page (its regex in message/post.cpp)."""
    m = re.match(r"(?:[^>]|[^b]>)*<b>((?:[^>]|[^b]>)*)</b>", html, re.S | re.I)
    return m[1] if m else ""


def jdim_wait(message: str) -> int | None:
    """The seconds JDim waits before posting again (its Samba24 regex in message/post.cpp)."""
    m = re.search(r"(ＥＲＲＯＲ +- +593|ERROR: +Samba24:Caution|) +([0-9]+) +", message)
    return int(m[2]) if m else None


@pytest.fixture
def thread(board) -> str:
    return new_thread(subject="スレ", body="最初").thread


def posts_of(thread: str) -> list[dict]:
    apply_pending()  # what the workers do after bbs.cgi answered
    found = queries.thread(get_store(), "test", thread)
    return queries.posts(get_store(), "test", thread, list(range(1, found.count + 1)))


def test_reply_in_shift_jis_is_written(thread) -> None:
    post(encoded(**reply_form(thread, "こんにちは①", FROM="名無し", mail="sage")))
    last = posts_of(thread)[-1]
    assert (last["body"], last["name"], last["mail"]) == ("こんにちは①", "名無し", "sage")


def test_success_page_is_titled_and_marked_for_clients(thread) -> None:
    html = page(post(encoded(**reply_form(thread))))
    assert "<title>書きこみました。</title>" in html and "<!-- 2ch_X:true -->" in html


def test_success_page_is_shift_jis(thread) -> None:
    response = post(encoded(**reply_form(thread)))
    assert (
        response["Content-Type"] == "text/html; charset=Shift_JIS"
        and "書きこみました".encode("cp932") in response.content
    )


def test_new_thread_has_no_key_and_a_subject(board) -> None:
    html = page(
        post(encoded(bbs="test", subject="新スレ", FROM="", mail="", MESSAGE="立てた", submit="新規スレッド作成"))
    )
    assert "2ch_X:true" in html
    apply_pending()
    [thread] = queries.threads(get_store(), "test")
    assert thread.title == "新スレ"


def test_empty_key_is_a_new_thread(board) -> None:
    post(encoded(bbs="test", key="", subject="空キー", MESSAGE="本文"))
    apply_pending()
    assert [t.title for t in queries.threads(get_store(), "test")] == ["空キー"]


def test_utf8_post_is_read_by_its_charset(thread) -> None:
    post(encoded("utf-8", **reply_form(thread, "UTF-8で〜♥")), content_type=f"{FORM}; charset=UTF-8")
    assert posts_of(thread)[-1]["body"] == "UTF-8で〜♥"


def test_answer_to_a_utf8_post_is_utf8(thread) -> None:
    response = post(encoded("utf-8", **reply_form(thread)), content_type=f"{FORM}; charset=utf-8")
    assert response["Content-Type"] == "text/html; charset=UTF-8" and "書きこみました" in page(response, "utf-8")


def test_numeric_references_become_the_characters_they_name(thread) -> None:
    # A Shift_JIS browser sends ♥ as the text "&#9829;", and 🍣 as "&#x1F363;".
    post(encoded(**reply_form(thread, "&#9829; と &#x1F363;")))
    assert posts_of(thread)[-1]["body"] == "♥ と 🍣"


def test_numeric_references_come_back_out_in_the_dat(thread) -> None:
    post(encoded(**reply_form(thread, "&#9829;")))
    apply_pending()
    assert b"<> &#9829; <>\n" in Client().get(f"/test/dat/{thread}.dat").content


def test_reference_to_a_control_character_stays_text() -> None:
    assert unescape_references("&#0;&#7;&#xD800;") == "&#0;&#7;&#xD800;"


def test_undecodable_shift_jis_is_refused_and_writes_nothing(thread) -> None:
    before = log_keys()
    body = encoded(**reply_form(thread)).replace(b"MESSAGE=", b"MESSAGE=%82%FF%FF")
    html = page(post(body))
    assert "文字コード" in jdim_error(html) and "2ch_X:error" in html
    assert log_keys() == before


def test_undecodable_utf8_is_refused(thread) -> None:
    body = encoded(**reply_form(thread))  # Shift_JIS bytes declared as UTF-8
    html = page(post(body, content_type=f"{FORM}; charset=UTF-8"), "utf-8")
    assert "文字コード" in jdim_error(html)


def test_unknown_charset_is_refused(thread) -> None:
    assert "文字コード" in jdim_error(page(post(encoded(**reply_form(thread)), f"{FORM}; charset=x-nonsense")))


def test_refusal_is_http_200_with_the_error_marker(thread) -> None:
    response = post(encoded(**reply_form(thread, "")))
    assert response.status_code == 200
    assert "<title>ＥＲＲＯＲ！</title>" in page(response) and "<!-- 2ch_X:error -->" in page(response)


def test_refusal_message_is_the_first_bold_text(thread) -> None:
    assert jdim_error(page(post(encoded(**reply_form(thread, ""))))) == "ＥＲＲＯＲ：本文がありません！"


def test_refusal_sets_no_cookie(thread) -> None:
    # JDim takes an error page that sets cookies for a 書き込み確認 page and posts again.
    assert not post(encoded(**reply_form(thread, ""))).cookies


def test_flood_wait_is_in_the_form_clients_parse() -> None:
    make_board("test", "テスト板", cooldown=30)
    thread = new_thread(address="192.0.2.1").thread
    html = page(post(encoded(**reply_form(thread)), address="192.0.2.1"))
    message = jdim_error(html)
    assert message.startswith("ＥＲＲＯＲ：連続投稿ですか？？")
    assert 0 < jdim_wait(message) <= 30


def test_bbs_cgi_needs_no_csrf_token(thread) -> None:
    response = post(encoded(**reply_form(thread)), client=Client(enforce_csrf_checks=True))
    assert "2ch_X:true" in page(response)


def test_unknown_board_is_an_error_page(board) -> None:
    html = page(post(encoded(bbs="nosuch", key="1", MESSAGE="x")))
    assert jdim_error(html) == "ＥＲＲＯＲ：該当する板は存在しません。"


def test_non_numeric_key_is_an_error_page(board) -> None:
    assert "スレッド" in jdim_error(page(post(encoded(bbs="test", key="../1", MESSAGE="x"))))


def test_get_is_not_a_post() -> None:
    assert Client().get("/test/bbs.cgi").status_code == 405


def test_the_posters_next_dat_has_the_post_before_any_worker_ran(thread) -> None:
    client = Client()  # a dedicated browser keeps the cookie bbs.cgi set
    post(encoded(**reply_form(thread, "すぐ見える")), client=client)
    assert "すぐ見える".encode("cp932") not in Client().get(f"/test/dat/{thread}.dat").content, (
        "the request itself applied nothing: others wait for the workers"
    )
    assert "すぐ見える".encode("cp932") in client.get(f"/test/dat/{thread}.dat").content


def test_other_readers_see_the_post_once_the_workers_applied_it(thread) -> None:
    post(encoded(**reply_form(thread, "あとで見える")))
    apply_pending()
    assert "あとで見える".encode("cp932") in Client().get(f"/test/dat/{thread}.dat").content


def test_trip_reaches_the_dat_in_2ch_form(thread) -> None:
    post(encoded(**reply_form(thread, FROM="山田#istrip")))
    apply_pending()
    name = Client().get(f"/test/dat/{thread}.dat").content.decode("cp932").split("\n")[1].split("<>")[0]
    assert re.fullmatch(r"山田 </b>◆[./0-9A-Za-z]{10} <b>", name)


def test_form_charset_defaults_to_shift_jis() -> None:
    assert form_charset(FORM) == form_charset(f"{FORM}; charset=Shift_JIS") == "cp932"


def test_form_plus_is_a_space_and_the_first_field_wins() -> None:
    assert parse_form(b"MESSAGE=a+b%2B&MESSAGE=second", "cp932") == {"MESSAGE": "a b+"}


@pytest.mark.parametrize("charset", ["base64", "zlib", "rot13", "utf-16", "undefined"])
def test_a_charset_clients_never_send_is_refused_with_http_200(thread, charset) -> None:
    before = log_keys()
    response = post(encoded(**reply_form(thread)), f"{FORM}; charset={charset}")
    assert response.status_code == 200 and "文字コード" in jdim_error(page(response))
    assert log_keys() == before


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="bbs"\r\n\r\ntest\r\n--x--'),
        ("application/json", b'{"bbs": "test", "MESSAGE": "json"}'),
        ("text/plain", b"bbs=test&MESSAGE=plain"),
    ],
    ids=["multipart", "json", "text"],
)
def test_a_body_that_is_not_a_urlencoded_form_is_refused_as_such(thread, content_type, body) -> None:
    before = log_keys()
    response = post(body, content_type)
    assert response.status_code == 200 and "x-www-form-urlencoded" in jdim_error(page(response))
    assert log_keys() == before


def test_a_form_sent_without_a_content_type_is_read_as_urlencoded(thread) -> None:
    assert "2ch_X:true" in page(post(encoded(**reply_form(thread, "型なし")), content_type=""))


# --- nobody posts in another's name; hostile forms ---------------------------------------------


def test_a_post_another_site_makes_a_browser_send_is_refused(thread) -> None:
    body = encoded(**reply_form(thread, "なりすまし"))
    response = Client().generic(
        "POST", "/test/bbs.cgi", body, "text/plain", HTTP_ORIGIN="https://evil.example", REMOTE_ADDR="198.51.100.9"
    )
    html = page(response)
    assert "2ch_X:error" in html and "他のサイト" in jdim_error(html)
    apply_pending()
    assert len(posts_of(thread)) == 1


def test_a_cross_site_fetch_is_refused_even_without_an_origin(thread) -> None:
    response = Client().generic(
        "POST", "/test/bbs.cgi", encoded(**reply_form(thread)), FORM, HTTP_SEC_FETCH_SITE="cross-site"
    )
    assert "2ch_X:error" in page(response)


def test_a_dedicated_browser_without_an_origin_posts(thread) -> None:
    assert "2ch_X:true" in page(post(encoded(**reply_form(thread, "専ブラから"))))


def test_the_boards_own_origin_posts(thread) -> None:
    response = Client().generic(
        "POST", "/test/bbs.cgi", encoded(**reply_form(thread)), FORM, HTTP_ORIGIN="http://testserver"
    )
    assert "2ch_X:true" in page(response)


def test_a_form_of_a_million_fields_gets_the_2ch_error_quickly(board) -> None:
    import time

    body = b"&".join(b"f%d=1" % n for n in range(1_200_000))
    started = time.monotonic()
    response = post(body)
    assert time.monotonic() - started < 2
    assert response.status_code == 200 and "2ch_X:error" in page(response)


def test_a_body_too_big_for_django_gets_the_2ch_error_not_a_bare_400(thread) -> None:
    body = encoded(**reply_form(thread, "あ" * 10)) + b"&pad=" + b"x" * 3_000_000
    response = post(body)
    assert response.status_code == 200 and "大きすぎます" in jdim_error(page(response))
