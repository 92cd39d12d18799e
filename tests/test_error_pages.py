"""Error pages as a reader meets them in production (DEBUG off): in Japanese, saying why, and claiming nothing."""

from __future__ import annotations

import http.client

import pytest
from django.test import Client

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
