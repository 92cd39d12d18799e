"""Error pages as a reader meets them in production (DEBUG off): in Japanese, saying why, and claiming nothing."""

from __future__ import annotations

import http.client
import socket

import pytest
from django.test import Client

from board.ops import refusals
from board.readmodel import queries
from board.web import errors
from tests import processes, services
from tests.test_admin import account, signed_in


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


def text_of(response) -> str:
    return response.content.decode("utf-8")


def test_an_address_nothing_serves_is_a_404_page_in_japanese(board):
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    assert errors.NOT_FOUND in text_of(response)
    assert '<html lang="ja">' in text_of(response)


def test_a_missing_thread_says_the_reason_the_view_gave(board):
    response = Client().get("/test/read.cgi/test/1234567890/")
    assert response.status_code == 404
    assert "該当するスレッドは存在しません。" in text_of(response)


def test_a_404_page_answering_a_form_makes_no_claim_about_a_post(board):
    response = Client().post("/no/such/form", {"MESSAGE": "本文"})
    assert response.status_code == 404
    assert "保存" not in text_of(response)


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("get", "/test/bbs.cgi", "POST"), ("put", "/test/", "GET, HEAD")]
)
def test_a_method_an_address_does_not_take_is_a_405_page_naming_those_it_takes(board, method, path, allowed):
    response = getattr(Client(), method)(path)
    assert response.status_code == 405 and response["Allow"] == allowed
    assert errors.NOT_ALLOWED.format(method=method.upper(), allowed=allowed) in text_of(response)


def test_a_host_the_site_does_not_serve_is_a_400_page_in_japanese(board):
    response = Client().get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert errors.BAD_REQUEST in text_of(response)


def test_a_moderator_refused_a_page_is_told_why_in_japanese(board):
    account("mod", boards=("test",))
    response = signed_in("mod").get("/admin/boards/")
    assert response.status_code == 403
    assert "管理者（スーパーユーザー）だけ" in text_of(response)


def test_a_crash_is_a_500_page_in_japanese_that_does_not_say_a_post_was_lost(board, monkeypatch):
    def broken(store):
        raise RuntimeError("the store is on fire")

    monkeypatch.setattr(queries, "all_boards", broken)
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    page = text_of(response)
    assert "サーバーでエラーが起きた" in page
    assert "保存されていません" not in page
    assert "保存されたかどうかをお確かめください" in page


def test_a_chunked_body_through_gunicorn_is_refused_as_411_not_as_a_missing_board(tmp_path):
    # Django reads a body by its Content-Length: a chunked one reached bbs.cgi empty ("no such board").
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=1, threads=1, ready_path="/healthz", log_dir=tmp_path) as web:
        connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        body = iter([b"bbs=test&key=1&time=1&", b"MESSAGE=x"])
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/test/bbs.cgi", body=body, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        text = response.read().decode("utf-8")
    assert response.status == 411 and errors.LENGTH_REQUIRED in text


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("refusals")
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=1, threads=1, ready_path="/healthz", log_dir=tmp_path) as web:
        yield web.port


def raw_exchange(port: int, request: bytes) -> tuple[str, str]:
    """What gunicorn answers to ``request`` sent as is: (status line, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode("latin-1"), body.decode("utf-8")


MANY_HEADERS = b"".join(b"X-Filler-%d: y\r\n" % i for i in range(120))


@pytest.mark.parametrize(
    ("request_bytes", "status", "message", "detail"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=\x00\r\n\r\n", 400, errors.BAD_REQUEST, "RANGE"),
        (b"GARBAGE\r\n\r\n", 400, errors.BAD_REQUEST, "GARBAGE"),
        (
            b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            errors.URI_TOO_LONG,
            "too large",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + MANY_HEADERS + b"\r\n",
            431,
            errors.HEADERS_TOO_LARGE,
            "limit request headers",
        ),
        (
            b"POST /test/bbs.cgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n",
            501,
            errors.CODING_NOT_TAKEN,
            "br",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-foo\r\n\r\n",
            417,
            errors.EXPECTATION_FAILED,
            "100-foo",
        ),
    ],
    ids=[
        "control-character-in-a-header",
        "no-request-line",
        "request-line-too-long",
        "too-many-headers",
        "unknown-transfer-coding",
        "unknown-expectation",
    ],
)
def test_a_request_gunicorn_refuses_unread_is_the_boards_page_in_japanese_saying_why(
    gunicorn_port, request_bytes, status, message, detail
):
    status_line, body = raw_exchange(gunicorn_port, request_bytes)
    assert status_line.startswith(f"HTTP/1.1 {status} ")
    assert '<html lang="ja">' in body and message in body
    assert detail in body  # gunicorn's own words, under the board's


def test_a_refused_request_is_answered_in_gunicorns_words_when_the_boards_page_fails(monkeypatch):
    def broken(status, detail):
        raise RuntimeError("templates are gone")

    monkeypatch.setattr(refusals, "unread_page", broken)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        refusals.write_error(ours, 400, "Bad Request", "Invalid HTTP Header: 'RANGE'")
        answer = theirs.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400 Bad Request") and "Invalid HTTP Header" in answer


def test_a_500_gunicorn_answers_is_the_500_page_that_claims_nothing_about_a_post():
    page = errors.unread_page(500, "")
    assert "保存されたかどうかをお確かめください" in page and "保存されていません" not in page


def test_a_refusal_of_a_status_the_board_has_no_words_for_is_said_as_a_bad_request():
    assert errors.BAD_REQUEST in errors.unread_page(409, "whatever gunicorn said")
