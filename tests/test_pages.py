"""The pages, through Django's test client: what a reader sees and what the HTML form does."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from board.boards import UNLIMITED
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from tests.helpers import apply_pending, log_keys, make_board, new_thread, reply

TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NUMBER_RE = re.compile(r'data-number="(\d+)"')
SCRIPT = "<script>alert(1)</script>"


def browser() -> Client:
    """A client that, like a browser, must carry the CSRF token the page gave it."""
    return Client(enforce_csrf_checks=True)


def submit_form(client: Client, page: str, board: str = "test", **fields: str):
    """Open page, take the CSRF token from its form and POST the form's fields."""
    html = client.get(page).content.decode()
    token = TOKEN_RE.search(html)
    assert token, f"no CSRF token in the form on {page}"
    data = {"FROM": "", "mail": "", "MESSAGE": "", **fields, "csrfmiddlewaretoken": token.group(1)}
    return client.post(f"/{board}/post", data)


def numbers_shown(html: str) -> list[int]:
    return [int(n) for n in NUMBER_RE.findall(html)]


def thread_with(count: int) -> str:
    key = new_thread(body="1").thread
    for i in range(2, count + 1):
        reply("test", key, body=str(i))
    return key


def section_order(html: str) -> list[str]:
    return re.findall(r'<section class="thread" id="t(\d+)">', html)


# --- reading -----------------------------------------------------------------


def test_board_list_links_every_board(client):
    make_board("news", "ニュース速報")
    make_board("tech", "技術")
    html = client.get("/").content.decode()
    assert '<a href="/news/">ニュース速報</a>' in html
    assert '<a href="/tech/">技術</a>' in html


@pytest.mark.parametrize("page", ["/", "/test/", "/test/subback.html", "/test/kako/", "/test/read.cgi/test/{key}/l50"])
def test_a_page_answers_head_as_it_answers_get(client, board, page):
    url = page.format(key=new_thread(body="本文").thread)
    got, head = client.get(url), client.head(url)
    assert got.status_code == head.status_code == 200
    assert head["Content-Type"] == got["Content-Type"] and head.content == b""


def test_board_top_lists_threads_most_recently_bumped_first(client, board):
    old, middle, new = (new_thread(subject=s).thread for s in ("古い", "中", "新しい"))
    reply("test", old)
    assert section_order(client.get("/test/").content.decode()) == [old, new, middle]


def test_a_sage_reply_does_not_bump_the_thread_on_the_board_top(client, board):
    old, new = new_thread().thread, new_thread().thread
    reply("test", old, mail="sage")
    assert section_order(client.get("/test/").content.decode()) == [new, old]


def test_board_top_shows_the_first_and_the_last_five_res_of_a_thread(client, board):
    thread_with(8)
    assert numbers_shown(client.get("/test/").content.decode()) == [1, 4, 5, 6, 7, 8]


def test_the_board_top_reads_its_digests_thread_objects_in_one_batch(client, board, monkeypatch):
    threads = [new_thread(subject=f"スレ{i}").thread for i in range(4)]
    store = get_store()
    singles, batches = [], []
    fetch, fetch_many = store.fetch, store.fetch_many
    monkeypatch.setattr(store, "fetch", lambda bucket, key: singles.append(bucket) or fetch(bucket, key))
    monkeypatch.setattr(
        store, "fetch_many", lambda bucket, keys: batches.append((bucket, sorted(keys))) or fetch_many(bucket, keys)
    )
    assert section_order(client.get("/test/").content.decode()) == threads[::-1]
    assert "thread" not in singles
    assert [keys for bucket, keys in batches if bucket == "thread"] == [sorted(f"test/{t}" for t in threads)]


def test_subback_lists_every_live_thread_with_its_count_most_recently_bumped_first(client, board):
    old, new = new_thread(subject="古いスレ").thread, new_thread(subject="新しいスレ").thread
    reply("test", old)
    html = client.get("/test/subback.html").content.decode()
    assert re.findall(r'read\.cgi/test/(\d+)/l50">([^<]+)<', html) == [(old, "古いスレ (2)"), (new, "新しいスレ (1)")]


def test_subback_reads_the_live_list_once_when_it_renders_its_rows(client, board, monkeypatch):
    new_thread(subject="一覧")
    store = get_store()
    reads = []
    fetch = store.fetch
    monkeypatch.setattr(store, "fetch", lambda bucket, key: reads.append(bucket) or fetch(bucket, key))
    assert "一覧 (1)" in client.get("/test/subback.html").content.decode()
    assert reads.count("threads") == 1


def test_subback_renders_its_rows_again_only_when_the_live_list_changed(client, board, monkeypatch):
    key = new_thread(subject="一覧").thread
    decoded = []
    every_thread = queries.threads
    monkeypatch.setattr(
        queries, "threads", lambda store, name, listing: decoded.append(name) or every_thread(store, name, listing)
    )
    client.get("/test/subback.html")
    client.get("/test/subback.html")
    assert len(decoded) == 1
    reply("test", key)
    assert "一覧 (2)" in client.get("/test/subback.html").content.decode()
    assert len(decoded) == 2


def test_thread_page_shows_every_post_with_its_title(client, board):
    key = thread_with(3)
    html = client.get(f"/test/read.cgi/test/{key}/").content.decode()
    assert numbers_shown(html) == [1, 2, 3]
    assert '<h1 class="thread-title">スレタイ</h1>' in html


@pytest.mark.parametrize(
    ("range_text", "shown"),
    [
        ("", list(range(1, 11))),
        ("l4", [1, 8, 9, 10]),
        ("l4n", [7, 8, 9, 10]),
        ("5", [5]),
        ("5n", [5]),
        ("3-5", [1, 3, 4, 5]),
        ("3-5n", [3, 4, 5]),
        ("8-", [1, 8, 9, 10]),
        ("-3", [1, 2, 3]),
        ("n", list(range(2, 11))),
        ("5-3", [1, 3, 4, 5]),
        ("9-50", [1, 9, 10]),
    ],
)
def test_thread_range_shows_the_posts_it_names(client, board, range_text, shown):
    key = thread_with(10)
    response = client.get(f"/test/read.cgi/test/{key}/{range_text}")
    assert response.status_code == 200
    assert numbers_shown(response.content.decode()) == shown


def test_a_range_that_is_not_one_is_404(client, board):
    key = thread_with(1)
    assert client.get(f"/test/read.cgi/test/{key}/l").status_code == 404


@pytest.mark.parametrize(
    "path", ["/nope/", "/nope/kako/", "/test/read.cgi/nope/1234567890/", "/test/read.cgi/test/1234567890/"]
)
def test_unknown_board_or_thread_is_404(client, board, path):
    assert client.get(path).status_code == 404


# --- posting through the HTML form -------------------------------------------


def test_new_thread_through_the_form_is_committed_as_post_one(board):
    response = submit_form(browser(), "/test/", subject="フォームから", MESSAGE="こんにちは")
    assert response.status_code == 200
    assert "書きこみました。" in response.content.decode()
    [key] = log_keys()[-1:]
    assert key.endswith("/0001.json")
    apply_pending()
    [thread] = queries.threads(get_store(), "test")
    assert thread.title == "フォームから"


def test_reply_through_the_form_takes_the_next_number(board):
    key = new_thread().thread
    response = submit_form(browser(), f"/test/read.cgi/test/{key}/", MESSAGE="レス", key=key)
    assert response.status_code == 200
    assert log_keys()[-1].endswith(f"/{key}/0002.json")


def test_posted_page_sends_the_poster_back_to_their_post(board):
    key = new_thread().thread
    html = submit_form(browser(), f"/test/read.cgi/test/{key}/", MESSAGE="レス", key=key).content.decode()
    assert f'content="1;URL=/test/read.cgi/test/{key}/l50#2"' in html


def post_urlencoded(body: bytes):
    """The form as a browser sends it (the test client's default is multipart)."""
    return Client().post("/test/post", body, content_type="application/x-www-form-urlencoded")


def test_a_form_whose_bytes_are_not_utf8_is_refused_as_bad_encoding_and_writes_nothing(board):
    key = new_thread().thread
    before = log_keys()
    response = post_urlencoded(f"key={key}&MESSAGE=%82%A0%82%A2".encode())  # Shift_JIS あい
    assert response.status_code == 400 and r.BAD_ENCODING in response.content.decode()
    assert log_keys() == before


def test_a_replacement_character_typed_in_the_form_is_posted(board):
    key = new_thread().thread
    response = post_urlencoded(f"key={key}&MESSAGE=%E2%80%A6%EF%BF%BD".encode())  # …� in UTF-8
    assert "書きこみました。" in response.content.decode()
    apply_pending()
    assert "…\ufffd" in Client().get(f"/test/read.cgi/test/{key}/2").content.decode()


def test_a_multipart_form_holding_a_replacement_character_is_taken_for_bad_bytes(board):
    # Django decodes a multipart body with replacement and it cannot be read again: the two look alike.
    key = new_thread().thread
    response = Client().post("/test/post", {"key": key, "MESSAGE": "壊れた\ufffd文字"})
    assert response.status_code == 400 and r.BAD_ENCODING in response.content.decode()


def test_post_without_csrf_token_is_refused_and_writes_nothing(board):
    key = new_thread().thread
    before = log_keys()
    response = browser().post("/test/post", {"MESSAGE": "トークンなし", "key": key})
    assert response.status_code == 403
    assert log_keys() == before


def test_post_with_a_forged_csrf_token_is_refused_and_writes_nothing(board):
    key = new_thread().thread
    client = browser()
    client.get(f"/test/read.cgi/test/{key}/")
    before = log_keys()
    response = client.post("/test/post", {"MESSAGE": "偽物", "key": key, "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert log_keys() == before


def test_a_get_of_the_form_endpoint_goes_back_to_the_board_and_writes_nothing(client, board):
    before = log_keys()
    response = client.get("/test/post")
    assert (response.status_code, response["Location"]) == (302, "/test/")
    assert log_keys() == before


def test_script_in_every_field_is_shown_escaped(client, board):
    submit_form(browser(), "/test/", subject=SCRIPT, FROM=SCRIPT, mail=SCRIPT, MESSAGE=SCRIPT)
    apply_pending()
    [thread] = queries.threads(get_store(), "test")
    for page in ("/test/", f"/test/read.cgi/test/{thread.key}/"):
        html = client.get(page).content.decode()
        assert "<script>alert" not in html
        assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # subject, name, body


def test_script_in_the_mail_field_is_escaped_in_the_mailto_link(client, board):
    key = new_thread().thread
    reply("test", key, mail='"><script>alert(1)</script>')
    html = client.get(f"/test/read.cgi/test/{key}/").content.decode()
    assert 'href="mailto:&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_anchor_becomes_a_link_to_the_post(client, board):
    key = thread_with(2)
    reply("test", key, body=">>2 わかる")
    html = client.get(f"/test/read.cgi/test/{key}/").content.decode()
    assert f'<a href="/test/read.cgi/test/{key}/2" class="anchor" data-anchor="2">&gt;&gt;2</a> わかる' in html


def test_anchor_range_becomes_a_link_to_the_range(client, board):
    key = thread_with(5)
    reply("test", key, body=">>3-5")
    html = client.get(f"/test/read.cgi/test/{key}/").content.decode()
    assert f'href="/test/read.cgi/test/{key}/3-5" class="anchor" data-anchor="3-5"' in html


def test_url_becomes_a_link(client, board):
    key = new_thread(body="見て https://example.com/a?b=1 です").thread
    html = client.get(f"/test/read.cgi/test/{key}/").content.decode()
    assert '<a href="https://example.com/a?b=1" rel="nofollow noopener noreferrer" target="_blank">' in html


def test_line_breaks_in_the_body_are_kept(client, board):
    key = new_thread(body="一行目\n二行目").thread
    assert "一行目<br>二行目" in client.get(f"/test/read.cgi/test/{key}/").content.decode()


# --- read-your-writes ----------------------------------------------------------


def test_poster_sees_their_reply_on_the_next_page_before_any_worker_ran(board):
    key = new_thread().thread
    client = browser()
    submit_form(client, f"/test/read.cgi/test/{key}/", MESSAGE="自分のレス", key=key)
    assert queries.thread(get_store(), "test", key).count == 1, "nothing may have applied the reply yet"
    html = client.get(f"/test/read.cgi/test/{key}/l50").content.decode()
    assert numbers_shown(html) == [1, 2]
    assert "自分のレス" in html


def test_poster_sees_their_new_thread_on_the_next_page_before_any_worker_ran(board):
    client = browser()
    response = submit_form(client, "/test/", subject="できたて", MESSAGE="一番乗り")
    key = re.search(r"/test/read\.cgi/test/(\d+)/l50", response.content.decode()).group(1)
    assert queries.thread(get_store(), "test", key) is None, "nothing may have applied the thread yet"
    html = client.get(f"/test/read.cgi/test/{key}/l50").content.decode()
    assert "できたて" in html and "一番乗り" in html


def test_a_forged_read_your_writes_cookie_is_ignored(board, client):
    posted = submit("test", None, Submission(subject="未反映", body="1"), "192.0.2.1")  # nothing applied it
    client.cookies["utakata_posted"] = f"test/{posted.thread}/1"  # unsigned: not one the board set
    assert client.get(f"/test/read.cgi/test/{posted.thread}/").status_code == 404


# --- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason", "status"),
    [
        ({"MESSAGE": ""}, r.NO_BODY, 400),
        ({"MESSAGE": "   \n  "}, r.NO_BODY, 400),
        ({"MESSAGE": "本文", "FROM": "名" * 33}, "名前が長すぎます！", 403),
        ({"MESSAGE": "本文", "mail": "m" * 65}, "メール欄が長すぎます！", 403),
        ({"MESSAGE": "あ" * 1025}, "本文が長すぎます！", 403),
        ({"MESSAGE": "\n".join("行" * 33)}, "改行が多すぎます！", 403),
        ({"MESSAGE": "本文", "key": "1234567890"}, r.NO_THREAD, 404),
    ],
)
def test_refused_reply_is_an_error_page_with_the_reason_and_writes_nothing(board, fields, reason, status):
    key = new_thread().thread
    client = browser()
    before = log_keys()
    response = submit_form(client, f"/test/read.cgi/test/{key}/", **{"key": key, **fields})
    html = response.content.decode()
    assert response.status_code == status
    assert "ＥＲＲＯＲ！" in html and reason in html
    assert log_keys() == before


def test_refused_new_thread_without_subject_is_an_error_page_and_writes_nothing(board):
    before = log_keys()
    response = submit_form(browser(), "/test/", subject="", MESSAGE="本文")
    assert response.status_code == 400
    assert r.NO_SUBJECT in response.content.decode()
    assert log_keys() == before


def test_post_to_an_unknown_board_is_a_404_error_page(board):
    client = browser()
    html = client.get("/test/").content.decode()
    token = TOKEN_RE.search(html).group(1)
    response = client.post("/nope/post", {"MESSAGE": "本文", "subject": "題", "csrfmiddlewaretoken": token})
    assert response.status_code == 404
    assert "ＥＲＲＯＲ！" in response.content.decode() and r.NO_BOARD in response.content.decode()


def test_a_json_body_to_the_form_is_a_415_error_page_that_says_so_and_writes_nothing(board):
    key = new_thread().thread
    client = browser()
    token = TOKEN_RE.search(client.get(f"/test/read.cgi/test/{key}/").content.decode()).group(1)
    before = log_keys()
    body = f'{{"key": "{key}", "MESSAGE": "本文"}}'
    response = client.post("/test/post", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 415
    assert "ＥＲＲＯＲ！" in response.content.decode() and r.WRONG_FORM_TYPE in response.content.decode()
    assert log_keys() == before


def test_a_multipart_form_posts(board):
    key = new_thread().thread
    client = browser()
    token = TOKEN_RE.search(client.get(f"/test/read.cgi/test/{key}/").content.decode()).group(1)
    response = client.post("/test/post", {"key": key, "MESSAGE": "マルチパート", "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and "書きこみました" in response.content.decode()


def test_second_post_within_the_cooldown_is_a_429_error_page_and_writes_nothing():
    make_board("slow", "ゆっくり板", cooldown=60)
    key = new_thread(board="slow", address="127.0.0.1").thread
    client = browser()
    before = log_keys()
    response = submit_form(client, f"/test/read.cgi/slow/{key}/", board="slow", MESSAGE="連投", key=key)
    assert response.status_code == 429
    assert "ＥＲＲＯＲ！" in response.content.decode() and "連続投稿ですか" in response.content.decode()
    assert log_keys() == before


def test_reply_to_a_stopped_thread_is_an_error_page_and_writes_nothing():
    make_board("tiny", "小さい板", **UNLIMITED, res_max=2)
    key = new_thread(board="tiny").thread
    reply("tiny", key)
    before = log_keys()
    response = submit_form(browser(), "/tiny/", board="tiny", MESSAGE="三番目", key=key)
    assert response.status_code == 403
    assert "このスレッドは2を超えました" in response.content.decode()
    assert log_keys() == before


def test_a_stopped_thread_page_has_no_reply_form(client):
    make_board("tiny", "小さい板", **UNLIMITED, res_max=2)
    key = new_thread(board="tiny").thread
    reply("tiny", key)
    html = client.get(f"/test/read.cgi/tiny/{key}/").content.decode()
    assert "このスレッドは2を超えました" in html
    assert 'name="MESSAGE"' not in html


def test_a_thread_page_dates_posts_with_the_weekday_names_they_were_made_with(client):
    make_board("week", "曜日板", **UNLIMITED, weekdays="SMTWTFS")
    key = new_thread("week").thread
    page = client.get(f"/test/read.cgi/week/{key}/").content.decode()
    assert any(f"({d}) " in page for d in "SMTWTFS")


# --- kept frames ---------------------------------------------------------------------------


def test_a_thread_pages_frame_is_rendered_once_and_each_request_gets_its_own_tokens(board, monkeypatch):
    from board.web import splice

    key = thread_with(3)
    rendered = []
    real = splice.render_to_string
    monkeypatch.setattr(splice, "render_to_string", lambda *a, **k: rendered.append(a[0]) or real(*a, **k))
    client = Client()
    first = client.get(f"/test/read.cgi/test/{key}/l50").content.decode()
    second = Client().get(f"/test/read.cgi/test/{key}/l50").content.decode()
    assert rendered == ["board/thread.html"], "the second request used the kept frame"
    assert TOKEN_RE.search(first).group(1) != TOKEN_RE.search(second).group(1), "CSRF tokens are per reader"
    onces = [re.search(r'name="once" value="([^"]+)"', page).group(1) for page in (first, second)]
    assert onces[0] != onces[1] and "Mark" not in onces[0]
    assert numbers_shown(first) == numbers_shown(second) == [1, 2, 3]


def test_the_posted_page_is_rendered_once_and_links_each_post(board, monkeypatch):
    from board.lib.kept import Kept
    from board.web import splice

    key = new_thread().thread
    monkeypatch.setattr(splice, "_filled", Kept(splice.FILLED_BYTES, splice._filled.size))
    rendered = []
    real = splice.render_to_string
    monkeypatch.setattr(splice, "render_to_string", lambda *a, **k: rendered.append(a[0]) or real(*a, **k))
    page = f"/test/read.cgi/test/{key}/"
    pages = [submit_form(browser(), page, MESSAGE=f"{n}", key=key).content.decode() for n in (2, 3)]
    assert rendered.count("board/posted.html") == 1, "the second post filled in the kept page"
    for number, page in zip((2, 3), pages, strict=True):
        assert f'<a href="/test/read.cgi/test/{key}/l50#{number}">スレッドに戻る</a>' in page
        assert f'content="1;URL=/test/read.cgi/test/{key}/l50#{number}"' in page


def test_a_filled_page_is_what_the_template_engine_gives_with_its_values_escaped():
    from django.template.loader import render_to_string

    from board.web.splice import render_filled

    back = """/a&b<c>"d"'e'/l50#1"""
    assert render_filled("board/posted.html", {"back": back}).content.decode() == render_to_string(
        "board/posted.html", {"back": back}
    )


def test_a_kept_frame_is_rendered_again_when_its_thread_changes(board):
    key = thread_with(2)
    Client().get(f"/test/read.cgi/test/{key}/")
    reply("test", key, body="三つ目")
    page = Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    assert numbers_shown(page) == [1, 2, 3] and "三つ目" in page


def test_the_board_top_shows_a_new_post_though_its_page_is_kept(board):
    key = thread_with(2)
    Client().get("/test/")
    reply("test", key, body="最新の書き込み")
    assert "最新の書き込み" in Client().get("/test/").content.decode()


def test_one_pages_token_posts_once_in_each_of_two_threads(board):
    one, two = thread_with(1), thread_with(1)
    for thread in (one, two):
        submit("test", thread, Submission(body="同じページから", token="one-page-token"), "192.0.2.9")
    apply_pending()
    assert [queries.thread(get_store(), "test", t).count for t in (one, two)] == [2, 2]


def test_a_thread_pages_posts_are_read_once_while_the_thread_is_unchanged(board, monkeypatch):
    key = thread_with(3)
    read = []
    real = queries.posts_html
    monkeypatch.setattr(queries, "posts_html", lambda *a: read.append(a[3]) or real(*a))
    first = Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    second = Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    assert read == [[1, 2, 3]], "the second request used the kept posts"
    assert numbers_shown(first) == numbers_shown(second) == [1, 2, 3]


def test_each_range_of_a_thread_keeps_its_own_posts(board):
    key = thread_with(3)
    Client().get(f"/test/read.cgi/test/{key}/")
    assert numbers_shown(Client().get(f"/test/read.cgi/test/{key}/2-3n").content.decode()) == [2, 3]
    assert numbers_shown(Client().get(f"/test/read.cgi/test/{key}/").content.decode()) == [1, 2, 3]


def test_a_kept_page_shows_a_moderators_deletion_at_once(board):
    key = thread_with(3)
    assert "消される本文" not in Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    reply("test", key, body="消される本文")
    assert "消される本文" in Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    call_command("deletepost", "test", key, "4", "--reason", "spam")
    page = Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    assert "消される本文" not in page and numbers_shown(page) == [1, 2, 3, 4]


def test_a_kept_page_shows_a_deleted_first_post_at_once(board):
    key = new_thread(body="最初の本文").thread
    reply("test", key, body="2")
    assert "最初の本文" in Client().get(f"/test/read.cgi/test/{key}/l50").content.decode()
    call_command("deletepost", "test", key, "1")
    assert "最初の本文" not in Client().get(f"/test/read.cgi/test/{key}/l50").content.decode()


def test_a_stopped_threads_page_is_kept_whole_and_is_the_same_for_every_reader(client):
    from board.web import splice

    make_board("tiny", "小さい板", **UNLIMITED, res_max=2)
    key = new_thread(board="tiny").thread
    reply("tiny", key)
    first = Client().get(f"/test/read.cgi/tiny/{key}/").content
    second = Client().get(f"/test/read.cgi/tiny/{key}/").content
    assert first == second
    (_, frame), kept = splice._contents.get(("posts", get_store().location, "tiny", key, ""))
    assert frame is not None and kept == first


def test_kept_contents_stay_within_their_bound():
    from board.lib.kept import Kept

    kept = Kept(1000, len)
    for n in range(20):
        kept.put(n, bytes(100))
    assert kept.used == sum(len(v) for v in kept.items.values()) <= 1000
    assert 19 in kept.items and 0 not in kept.items
    kept.put("big", bytes(300))  # over a quarter of the bound: not kept
    assert kept.get("big") is None


def test_a_boards_index_html_is_a_permanent_redirect_to_its_top_page(board, client):
    response = client.get("/test/index.html")
    assert response.status_code == 301 and response["Location"] == "/test/"
