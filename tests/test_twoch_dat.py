"""GET /{board}/dat/{key}.dat: a dat that behaves like a static file, read from stored bytes."""

from __future__ import annotations

import gzip
import html
import re

import pytest
from django.test import Client
from django.utils.http import http_date

from board.boards import UNLIMITED
from board.events import EventType, new_event
from board.moderation.actions import archive_thread, delete_post
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel import projection
from board.store import get_store
from board.twoch import conditional, datfile
from tests.helpers import apply_pending, make_board, new_thread, reply


def url(thread: str, board: str = "test") -> str:
    return f"/{board}/dat/{thread}.dat"


def get(path: str, **headers):
    return Client().get(path, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def seed_thread(posts: int, board: str = "test", key: str = "1700000000") -> str:
    """A thread applied straight to the store: quicker than the write path for hundreds of posts."""
    store = get_store()
    for n in range(1, posts + 1):
        payload = {"name": "名無しさん", "mail": "", "body": f"{n}番目の書き込みです。", "id": "AbCdEfGh"}
        kind = EventType.POST_CREATED
        if n == 1:
            payload["subject"], kind = "長いスレ", EventType.THREAD_CREATED
        projection.apply(store, new_event(kind, board, key, n, payload))
    return key


@pytest.fixture
def thread(board) -> str:
    key = new_thread(subject="スレタイ", body="一つ目").thread
    reply("test", key, body="二つ目")
    return key


def test_dat_is_shift_jis_text(thread) -> None:
    response = get(url(thread))
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=Shift_JIS"


def test_dat_has_one_line_per_post_with_the_title_on_the_first(thread) -> None:
    lines = get(url(thread)).content.decode("cp932").split("\n")
    assert len(lines) == 3 and lines[2] == ""
    assert lines[0].endswith("<> 一つ目 <>スレタイ") and lines[1].endswith("<> 二つ目 <>")


def test_dat_advertises_ranges_and_validators(thread) -> None:
    response = get(url(thread))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"].endswith(" GMT")
    assert int(response["Content-Length"]) == len(response.content)


def test_range_from_an_offset_is_206_with_the_rest(thread) -> None:
    whole = get(url(thread)).content
    response = get(url(thread), range="bytes=10-")
    assert response.status_code == 206
    assert response.content == whole[10:]
    assert response["Content-Range"] == f"bytes 10-{len(whole) - 1}/{len(whole)}"


def test_range_a_few_bytes_before_the_end_is_206(thread) -> None:
    whole = get(url(thread)).content
    response = get(url(thread), range=f"bytes={len(whole) - 1}-")
    assert response.status_code == 206 and response.content == b"\n"


def test_range_at_the_end_is_416_with_the_size(thread) -> None:
    size = len(get(url(thread)).content)
    response = get(url(thread), range=f"bytes={size}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"


def test_range_past_the_end_is_416(thread) -> None:
    size = len(get(url(thread)).content)
    assert get(url(thread), range=f"bytes={size + 100}-").status_code == 416


def test_closed_and_suffix_ranges_are_served(thread) -> None:
    whole = get(url(thread)).content
    assert get(url(thread), range="bytes=2-5").content == whole[2:6]
    assert get(url(thread), range="bytes=-3").content == whole[-3:]


def test_several_ranges_are_answered_with_the_whole_file(thread) -> None:
    response = get(url(thread), range="bytes=0-1,5-6")
    assert response.status_code == 200 and response.content == get(url(thread)).content


def test_range_for_another_version_is_answered_with_the_whole_file(thread) -> None:
    whole = get(url(thread)).content
    response = get(url(thread), range="bytes=5-", if_range='"some-older-version"')
    assert response.status_code == 200 and response.content == whole


def test_range_for_this_version_is_served(thread) -> None:
    etag = get(url(thread))["ETag"]
    assert get(url(thread), range="bytes=5-", if_range=etag).status_code == 206


def test_matching_etag_is_304_before_range_is_looked_at(thread) -> None:
    full = get(url(thread))
    response = get(url(thread), if_none_match=full["ETag"], range=f"bytes={len(full.content)}-")
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == full["ETag"]


def test_other_etag_ignores_if_modified_since(thread) -> None:
    full = get(url(thread))
    response = get(url(thread), if_none_match='"other"', if_modified_since=full["Last-Modified"])
    assert response.status_code == 200


def test_unchanged_dat_is_304_once_its_last_post_has_settled(thread, monkeypatch) -> None:
    monkeypatch.setattr(conditional, "now_ms", lambda: 10**15)
    since = get(url(thread))["Last-Modified"]
    response = get(url(thread), if_modified_since=since, range="bytes=0-")
    assert response.status_code == 304


def test_post_in_the_same_second_as_the_fetch_is_not_hidden_by_if_modified_since(board, monkeypatch) -> None:
    key = new_thread().thread
    since = get(url(key))["Last-Modified"]  # handed out within the post's own second
    reply("test", key, body="同じ秒の書き込み")
    monkeypatch.setattr(conditional, "now_ms", lambda: 10**15)
    assert get(url(key), if_modified_since=since).status_code == 200


def test_last_modified_is_the_second_of_the_change_until_it_settles() -> None:
    assert conditional.last_modified_seconds(1_000_500, 1_000_900) == 1000
    assert conditional.last_modified_seconds(1_000_500, 1_000_500 + conditional.SETTLE_MS) == 1001


def test_if_modified_since_compares_in_milliseconds() -> None:
    assert conditional.modified_since(1_000_500, http_date(1000)) is True
    assert conditional.modified_since(1_000_500, http_date(1001)) is False


def test_whole_dat_is_gzipped_when_asked(thread) -> None:
    plain = get(url(thread)).content
    response = get(url(thread), accept_encoding="gzip, deflate")
    assert response["Content-Encoding"] == "gzip" and gzip.decompress(response.content) == plain
    assert response["Vary"] == "Accept-Encoding"


def test_ranges_are_never_gzipped(thread) -> None:
    response = get(url(thread), accept_encoding="gzip", range="bytes=1-")
    assert response.status_code == 206 and not response.has_header("Content-Encoding")


def test_gzip_refused_with_q_zero_is_not_used(thread) -> None:
    assert not get(url(thread), accept_encoding="gzip;q=0").has_header("Content-Encoding")


def test_head_has_the_headers_and_no_body(thread) -> None:
    full = get(url(thread))
    response = Client().head(url(thread))
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Length"] == full["Content-Length"] and response["ETag"] == full["ETag"]


def test_a_new_post_only_appends(thread) -> None:
    before = get(url(thread)).content
    reply("test", thread, body="三つ目")
    after = get(url(thread)).content
    assert after.startswith(before) and after[len(before) :].decode("cp932").endswith("<> 三つ目 <>\n")


def test_deletion_rewrites_the_line_and_changes_the_etag(thread) -> None:
    before = get(url(thread))
    delete_post("test", thread, 2)
    apply_pending()
    after = get(url(thread))
    assert after["ETag"] != before["ETag"]
    assert after.content.split(b"\n")[1] == "あぼーん<>あぼーん<>あぼーん<>あぼーん<>".encode("cp932")


def test_full_thread_gets_the_stop_line() -> None:
    make_board("small", "小さい板", **UNLIMITED, res_max=3)
    key = seed_thread(3, board="small")
    lines = get(url(key, "small")).content.decode("cp932").split("\n")
    assert lines[3].startswith("4<><>Over 3 Thread<>") and lines[4] == ""


def test_dat_uses_the_boards_weekday_names() -> None:
    make_board("week", "曜日板", **UNLIMITED, weekdays="にげかすもきど")
    key = new_thread("week").thread
    date = get(url(key, "week")).content.decode("cp932").split("<>")[2]
    assert date[10:13] in {f"({d})" for d in "にげかすもきど"}


def test_changing_the_weekday_names_changes_only_later_posts() -> None:
    make_board("week", "曜日板", **UNLIMITED)
    key = new_thread("week").thread
    before = get(url(key, "week"))
    make_board("week", "曜日板", **UNLIMITED, weekdays="SMTWTFS")
    reply("week", key)
    after = get(url(key, "week")).content
    assert after.startswith(before.content), "a dat line, once written, never changes"
    assert after.decode("cp932").split("\n")[1].split("<>")[2][10:13] in {f"({d})" for d in "SMTWTFS"}


def test_a_range_request_reads_only_the_pages_it_needs(board, monkeypatch) -> None:
    key = seed_thread(250)
    size = len(get(url(key)).content)
    store = get_store()
    fetched: list[str] = []
    real = store.fetch_many

    def recording(bucket, keys):
        keys = list(keys)
        fetched.extend(keys if bucket == o.POSTS else [])
        return real(bucket, keys)

    monkeypatch.setattr(store, "fetch_many", recording)
    assert get(url(key), range=f"bytes={size - 1}-").status_code == 206
    assert fetched == [o.posts_key("test", key, o.page_of(250))]


def test_a_range_from_any_offset_is_the_rest_of_the_whole_dat() -> None:
    make_board("small", "小さい板", **UNLIMITED, res_max=2 * o.POSTS_PER_PAGE + 5)
    key = seed_thread(2 * o.POSTS_PER_PAGE + 5, board="small")
    whole = get(url(key, "small")).content
    dat = datfile.open_dat(get_store(), "small", key)
    assert dat.tail and len(dat.chunks) == 3
    edges, at = {0, len(whole) - len(dat.tail), len(whole) - 1}, 0
    for chunk in dat.chunks:
        at += chunk.size
        edges |= {at - 1, at, at + 1}
    for start in sorted(edges):
        answer = get(url(key, "small"), range=f"bytes={start}-")
        assert (answer.status_code, answer.content) == (206, whole[start:]), start


def test_serving_a_dat_renders_no_post(board, monkeypatch) -> None:
    key = seed_thread(150)
    size = len(get(url(key)).content)

    def no_rendering(*args, **kwargs):
        raise AssertionError("a dat request rendered a post")

    monkeypatch.setattr("board.formats.dat.post_line", no_rendering)
    assert get(url(key), range=f"bytes={size - 10}-").status_code == 206
    assert get(url(key)).status_code == 200


def test_an_index_behind_its_pages_is_noticed_and_repaired(thread) -> None:
    store = get_store()
    before = get(url(thread)).content
    # A post whose page was written but whose index entry was not (a crash in between).
    page_key = o.posts_key("test", thread, 0)
    event = new_event(EventType.POST_CREATED, "test", thread, 3, {"name": "n", "mail": "", "body": "遅れ", "id": ""})
    projection.write(store, o.POSTS, page_key, {"posts": {"3": projection.post_state(event)}})
    response = get(url(thread), range=f"bytes={len(before)}-")
    assert response.status_code == 206 and response.content.decode("cp932").endswith("<> 遅れ <>\n")
    index = e.loads(store.get(o.THREAD, o.thread_key("test", thread)))
    assert index["pages"]["0"]["lines"] == 3


def test_unknown_thread_is_404(board) -> None:
    assert get(url("1234567890")).status_code == 404


def test_unknown_board_is_404() -> None:
    assert get(url("1234567890", "nosuch")).status_code == 404


def kako_url(key: str) -> str:
    return f"/test/kako/{key[:4]}/{key[:5]}/{key}.dat"


def test_fallen_thread_redirects_to_the_kako_layout(thread) -> None:
    archive_thread("test", thread)
    apply_pending()
    response = get(url(thread))
    assert response.status_code == 301 and response["Location"] == kako_url(thread)


def test_kako_serves_the_fallen_dat_with_ranges(thread) -> None:
    live = get(url(thread)).content
    archive_thread("test", thread)
    apply_pending()
    assert get(kako_url(thread)).content == live
    assert get(kako_url(thread), range="bytes=5-").content == live[5:]


def test_kako_has_no_live_thread(thread) -> None:
    assert get(kako_url(thread)).status_code == 404


def test_kako_of_a_key_that_never_existed_is_404(board) -> None:
    assert get(kako_url("1234567890")).status_code == 404


def test_kako_path_must_match_the_key(thread) -> None:
    archive_thread("test", thread)
    apply_pending()
    assert get(f"/test/kako/9999/99999/{thread}.dat").status_code == 404


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n"))).strip()


def test_the_dat_says_what_the_thread_page_says(board) -> None:
    key = new_thread(subject="見比べ", body="最初 >>1 http://example.com/?a=1&b=<2>", name="山田#istrip").thread
    reply("test", key, body='二行\n"引用" &amp; ♥', mail="sage")
    reply("test", key, body="消える")
    delete_post("test", key, 3)
    apply_pending()
    page = Client().get(f"/test/read.cgi/test/{key}/").content.decode()
    shown = re.findall(r'<dt>.*?：(.*?)：(.*?)</dt>\s*<dd class="body">(.*?)</dd>', page, re.S)
    lines = [line.split("<>") for line in get(url(key)).content.decode("cp932").split("\n")[:-1]]
    assert len(shown) == len(lines) == 3
    for (name, date, body), (d_name, _, d_date, d_body, _) in zip(shown, lines, strict=True):
        assert _text(name) == _text(d_name.replace("</b>", "").replace("<b>", ""))
        assert _text(date) == _text(d_date)
        assert _text(body) == html.unescape(d_body.replace(" <br> ", "\n")).strip()


def test_a_range_with_an_absurdly_long_number_is_ignored_and_the_whole_dat_sent(board) -> None:
    key = seed_thread(3)
    whole = get(url(key))
    response = get(url(key), range="bytes=" + "9" * 5000 + "-")
    assert (response.status_code, response.content) == (200, whole.content)
