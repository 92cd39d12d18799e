"""Every answer is true, and quick: a log that hangs, fails after writing, or refuses; a resubmitted post.

The log here is the in-memory one wrapped to fail the way S3 fails (what is
under test is what the write path concludes, not S3). The real endpoints'
failures are in test_recovery.py (unreachable S3) and the log contract suite.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from board import log as log_module
from board.log import LogUnavailable, get_log
from board.log.memory import MemoryLog
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from tests.helpers import apply_pending, log_keys, make_board, new_thread


class FlakyLog(MemoryLog):
    """The memory log, with the next creates failing the way S3 does."""

    mode = ""  # "lands-then-fails": written, but the answer lost; "hangs": blocks until released
    release = threading.Event()
    reads = ""  # "hang": a read of a post blocks until released; "fail": it fails as S3 does
    lists = ""  # "hang": a listing of posts blocks until released

    def list(self, prefix: str = "", start_after: str = ""):
        if prefix.startswith("incoming/posts/") and FlakyLog.lists == "hang":
            FlakyLog.release.wait(30)
        return super().list(prefix, start_after)

    def read(self, key: str) -> bytes:
        if key.startswith("incoming/posts/") and FlakyLog.reads == "hang":
            FlakyLog.release.wait(30)
        if key.startswith("incoming/posts/") and FlakyLog.reads == "fail":
            raise LogUnavailable("503 SlowDown")
        return super().read(key)

    def create(self, key: str, data: bytes) -> None:
        if key.startswith("incoming/posts/") and FlakyLog.mode == "lands-then-fails":
            super().create(key, data)
            raise LogUnavailable("read timeout after the request was sent")
        if key.startswith("incoming/posts/") and FlakyLog.mode == "hangs":
            FlakyLog.release.wait(30)
        super().create(key, data)


@pytest.fixture
def flaky(settings):
    settings.UTAKATA_LOG = {**settings.UTAKATA_LOG, "BACKEND": "tests.test_posting_faults.FlakyLog"}
    settings.COMMIT_DEADLINE = 0.5
    log_module.handler.reset()
    FlakyLog.mode = FlakyLog.reads = FlakyLog.lists = ""
    FlakyLog.release.clear()
    yield FlakyLog
    FlakyLog.release.set()
    FlakyLog.mode = FlakyLog.reads = FlakyLog.lists = ""


@pytest.fixture
def thread(board) -> str:
    return new_thread(body="最初").thread


def posts_in_log(thread: str) -> list[str]:
    return [key for key in log_keys() if f"/{thread}/" in key and key.endswith(".json")]


def reply(thread: str, body: str = "レス", token: str = "", client_time: str = "", address: str = "192.0.2.7"):
    return submit("test", thread, Submission(body=body, token=token, client_time=client_time), address)


def test_a_post_that_landed_but_whose_answer_was_lost_is_acknowledged(flaky, thread):
    flaky.mode = "lands-then-fails"
    posted = reply(thread, "届いていた")
    assert posted.number == 2
    assert len(posts_in_log(thread)) == 2


def test_a_log_that_hangs_is_answered_not_confirmed_by_the_deadline(flaky, thread):
    flaky.mode = "hangs"
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        reply(thread, "待たされる", token="tok-1")
    assert time.monotonic() - started < 2
    assert refused.value.message == r.UNCONFIRMED, "never 「保存されていません」 when it may be saved"
    assert r.LOG_DOWN not in refused.value.message


def test_the_forms_page_never_says_not_saved_when_the_post_may_be(flaky, thread):
    flaky.mode = "hangs"
    page = Client().post("/test/post", {"key": thread, "MESSAGE": "待たされる", "once": "tok-page"})
    text = page.content.decode()
    assert page.status_code == 503 and r.UNCONFIRMED in text and "保存されていません" not in text


def test_bbscgis_error_page_never_says_not_saved_when_the_post_may_be(flaky, thread):
    flaky.mode = "hangs"
    form = {"bbs": "test", "key": thread, "time": "1796000000", "MESSAGE": "待たされる", "submit": "書き込む"}
    body = urlencode(form, encoding="cp932")
    page = Client().generic("POST", "/test/bbs.cgi", body, "application/x-www-form-urlencoded")
    text = page.content.decode("cp932")
    assert "2ch_X:error" in text and "保存されていません" not in text


def test_a_refusal_page_says_not_saved_when_nothing_was(thread):
    page = Client().post("/test/post", {"key": thread, "MESSAGE": ""})
    assert "書き込みは保存されていません" in page.content.decode()


def test_resubmitting_a_post_that_was_not_confirmed_posts_it_once(flaky, thread):
    flaky.mode = "hangs"
    with pytest.raises(Refused):
        reply(thread, "一度だけ", token="tok-2")
    with pytest.raises(Refused) as still:  # the first put is still running
        reply(thread, "一度だけ", token="tok-2")
    assert still.value.message == r.STILL_CONFIRMING
    flaky.release.set()  # the first put lands after all
    deadline = time.monotonic() + 5
    while len(posts_in_log(thread)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    flaky.mode = ""
    again = reply(thread, "一度だけ", token="tok-2")
    assert again.number == 2
    assert len(posts_in_log(thread)) == 2, "the resubmission found the first post and wrote nothing"


def test_resubmitting_while_the_log_hangs_is_answered_by_the_deadline(flaky, thread):
    # The soak (bench/soak) saw it: with S3 hung, a resubmission read the first attempt back
    # with no deadline and held the poster (and a web thread) until S3 came back, 24 s.
    flaky.mode, flaky.reads = "hangs", "hang"
    with pytest.raises(Refused):
        reply(thread, "待たされる", token="tok-hang")
    started = time.monotonic()
    with pytest.raises(Refused) as again:
        reply(thread, "待たされる", token="tok-hang")
    assert time.monotonic() - started < 2
    assert again.value.maybe_written and r.LOG_DOWN not in again.value.message


def test_a_resubmission_of_a_written_post_the_log_cannot_read_back_is_not_written_again(flaky, thread):
    assert reply(thread, "書けていた", token="tok-read").number == 2
    flaky.reads = "fail"
    with pytest.raises(Refused) as again:
        reply(thread, "書けていた", token="tok-read")
    assert again.value.maybe_written, "it is written: never 「保存されていません」"
    assert len(posts_in_log(thread)) == 2, "not written a second time"


def test_a_reply_to_a_thread_not_applied_yet_while_the_log_hangs_is_refused_by_the_deadline(flaky, board):
    # The soak saw it: the reply read the thread's first post from the hung log with no deadline,
    # and S3's read timeouts ended in a 500 after 32 s.
    fresh = submit("test", None, Submission(body="できたて", subject="新スレ"), "192.0.2.7").thread  # not applied
    flaky.reads = "hang"
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        reply(fresh, "すぐレス")
    assert time.monotonic() - started < 2
    assert refused.value.status == 503 and posts_in_log(fresh) == [f"incoming/posts/test/{fresh}/0001.json"]


def test_a_reply_to_a_thread_not_applied_yet_while_the_log_fails_is_refused_not_a_500(flaky, board):
    fresh = submit("test", None, Submission(body="できたて", subject="新スレ"), "192.0.2.7").thread
    flaky.reads = "fail"
    page = Client().post("/test/post", {"key": fresh, "MESSAGE": "すぐレス", "once": "tok-fresh"})
    assert page.status_code == 503 and "保存されていません" in page.content.decode()


def test_the_posters_next_page_while_the_log_hangs_is_served_at_once_without_the_catch_up(flaky, thread):
    # The soak saw it: a poster's thread page read their post from the hung log with no deadline.
    client = Client()
    assert "書きこみました" in client.post("/test/post", {"key": thread, "MESSAGE": "自分のレス"}).content.decode()
    flaky.reads = "hang"
    started = time.monotonic()
    page = client.get(f"/test/read.cgi/test/{thread}/l50")
    assert page.status_code == 200 and time.monotonic() - started < 2


def test_a_new_thread_while_the_log_hangs_is_refused_as_not_saved_by_the_deadline(flaky, board):
    # Finding a free thread key lists the log; with S3 hung that listing had no deadline.
    flaky.lists = "hang"
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        submit("test", None, Submission(body="本文", subject="新スレ"), "192.0.2.7")
    assert time.monotonic() - started < 2
    assert refused.value.message == r.LOG_DOWN, "nothing was written: 「保存されていません」 is true"
    flaky.lists = ""
    assert [key for key in log_keys() if key.startswith("incoming/posts/")] == []


def test_a_reply_numbered_from_the_log_while_it_hangs_is_refused_as_not_saved_by_the_deadline(flaky, thread):
    from django.core.cache import cache

    cache.clear()  # Redis emptied: no numbering hint, the number comes from listing the thread's claims
    flaky.lists = "hang"
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        reply(thread, "番号は一覧から")
    assert time.monotonic() - started < 2
    assert refused.value.message == r.LOG_DOWN
    flaky.lists = ""
    assert len(posts_in_log(thread)) == 1


def test_a_form_sent_twice_posts_once():
    make_board("test", "テスト板", cooldown=30)
    thread = new_thread(body="最初", address="192.0.2.50").thread
    first = reply(thread, "二度押し", token="tok-3")
    second = reply(thread, "二度押し", token="tok-3")  # inside the cooldown: still the same post, not a refusal
    assert (first.number, second.number) == (2, 2)
    assert len(posts_in_log(thread)) == 2


def test_a_bbscgi_client_resending_the_same_post_posts_once(thread):
    first = reply(thread, "再送", client_time="1796000000")
    second = reply(thread, "再送", client_time="1796000000")
    third = reply(thread, "再送", client_time="1796000009")  # a new post with the same text
    assert (first.number, second.number, third.number) == (2, 2, 3)


def test_an_unreachable_log_is_not_saved_and_says_so_quickly(settings, thread):
    from tests.services import free_port

    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "down",
        "OPTIONS": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "connect_timeout": "0.3", "max_attempts": "2"},
    }
    log_module.handler.reset()
    with pytest.raises(Refused) as refused:
        reply(thread, "届かない")
    assert refused.value.message == r.LOG_DOWN  # no attempt connected: surely not written


def test_posting_goes_on_when_the_cache_is_down(cache_down):
    make_board("test", "テスト板", cooldown=30)
    thread = new_thread(body="最初").thread
    first = reply(thread, "キャッシュなし", address="192.0.2.60")
    second = reply(thread, "クールダウンも効かない", address="192.0.2.60")  # fails open
    assert (first.number, second.number) == (2, 3)


@pytest.fixture
def file_log(settings, tmp_path):
    """The embedded log (a local directory), whose file names have a length limit."""
    settings.UTAKATA_LOG = {"BACKEND": "board.log.local.LocalLog", "LOCATION": str(tmp_path / "log"), "OPTIONS": {}}
    log_module.handler.reset()


@pytest.mark.parametrize("key", ["1" * 256, "１２３"])
def test_a_thread_key_out_of_bounds_is_refused_not_an_error(file_log, board, key):
    response = Client().post("/test/post", {"key": key, "MESSAGE": "x"})
    assert response.status_code == 404 and r.NO_THREAD in response.content.decode()


def test_bbscgi_with_a_huge_key_answers_an_error_page(file_log, board):
    body = f"bbs=test&key={'9' * 300}&time=1&FROM=&mail=&MESSAGE=x".encode()
    response = Client().generic("POST", "/test/bbs.cgi", body, "application/x-www-form-urlencoded")
    assert response.status_code == 200 and "2ch_X:error" in response.content.decode("cp932")


def test_a_store_that_fails_before_the_commit_refuses_clearly(thread, monkeypatch):
    from board.store import StoreUnavailable

    def down(*args, **kwargs):
        raise StoreUnavailable("riak: no node answered")

    monkeypatch.setattr(queries, "is_banned", down)
    with pytest.raises(Refused) as refused:
        reply(thread, "x")
    assert refused.value.message == r.LOG_DOWN and refused.value.status == 503
    apply_pending()
    assert queries.thread(get_store(), "test", thread).count == 1
    assert get_log() is not None


def test_a_form_sent_again_with_other_text_is_a_post_of_its_own(thread):
    # A browser keeps the page's form (and its token) when its poster goes Back and writes again.
    first = reply(thread, "一つ目", token="tok-back")
    second = reply(thread, "書き直した二つ目", token="tok-back")
    assert (first.number, second.number) == (2, 3)
    assert len(posts_in_log(thread)) == 3


def test_a_new_thread_form_sent_again_with_another_subject_makes_a_thread_of_its_own(board):
    def create(subject: str):
        return submit("test", None, Submission(subject=subject, body="本文", token="tok-nt"), "192.0.2.7")

    first, second = create("スレ一つ目"), create("スレ二つ目")
    assert first.thread != second.thread


def test_a_post_sent_twice_at_once_is_written_once(thread, monkeypatch):
    # A double click: the second submission arrives while the first has not written its claim yet.
    reached, release = threading.Event(), threading.Event()
    is_banned = queries.is_banned

    def held(*args):
        if not reached.is_set():
            reached.set()
            release.wait(10)
        return is_banned(*args)

    monkeypatch.setattr(queries, "is_banned", held)
    first: list = []
    sending = threading.Thread(target=lambda: first.append(reply(thread, "二度押し", token="tok-dbl")))
    sending.start()
    assert reached.wait(10)
    with pytest.raises(Refused) as second:
        reply(thread, "二度押し", token="tok-dbl")
    release.set()
    sending.join(10)
    assert second.value.message == r.STILL_CONFIRMING and second.value.maybe_written
    assert reply(thread, "二度押し", token="tok-dbl").number == first[0].number == 2
    assert len(posts_in_log(thread)) == 2


def test_a_submission_refused_before_its_write_posts_when_sent_again(thread, monkeypatch):
    from board.store import StoreUnavailable

    is_banned = queries.is_banned

    def down(*args):
        raise StoreUnavailable("riak: no node answered")

    monkeypatch.setattr(queries, "is_banned", down)
    with pytest.raises(Refused) as refused:
        reply(thread, "もう一度", token="tok-again")
    assert refused.value.message == r.LOG_DOWN
    monkeypatch.setattr(queries, "is_banned", is_banned)
    assert reply(thread, "もう一度", token="tok-again").number == 2


def test_a_new_thread_is_acknowledged_when_the_store_fails_after_its_commit(board, monkeypatch):
    # Past the commit, reading the live list to archive past the cap must not turn into "not saved".
    from board.store import StoreUnavailable

    def down(*args, **kwargs):
        raise StoreUnavailable("riak: no node answered")

    monkeypatch.setattr(queries, "threads", down)
    posted = submit("test", None, Submission(subject="立った", body="本文"), "192.0.2.7")
    assert posted.number == 1 and posted.archived == ()
    assert len(posts_in_log(posted.thread)) == 1


def test_a_post_whose_fan_out_cannot_be_queued_logs_one_warning_line_not_a_traceback(thread, monkeypatch, caplog):
    from board.tasks import queueing

    def broker_down(*args):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queueing, "send", broker_down)
    posted = submit("test", thread, Submission(body="届かない"), "192.0.2.1")
    said = [record for record in caplog.records if "not queued" in record.getMessage()]
    assert [(record.levelname, record.exc_info) for record in said] == [("WARNING", None)]
    assert posted.event.id in said[0].getMessage() and "Connection refused" in said[0].getMessage()
