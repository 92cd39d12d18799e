"""/test/read.cgi/{board}/{key}/{range}: every range form 2ch clients and users type."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from board.events import EventType, new_event
from board.readmodel import projection
from board.store import get_store


@pytest.fixture
def thread(board) -> str:
    """120 posts, applied straight to the store (the write path would take a while)."""
    key = "1700000000"
    for n in range(1, 121):
        payload = {"name": "名無しさん", "mail": "", "body": f"{n}番", "id": ""}
        kind = EventType.THREAD_CREATED if n == 1 else EventType.POST_CREATED
        if n == 1:
            payload["subject"] = "スレ"
        projection.apply(get_store(), new_event(kind, "test", key, n, payload))
    return key


def shown(thread: str, range_text: str) -> list[int]:
    response = Client().get(f"/test/read.cgi/test/{thread}/{range_text}")
    assert response.status_code == 200
    return [int(n) for n in re.findall(r'data-number="(\d+)"', response.content.decode())]


@pytest.mark.parametrize(
    ("range_text", "numbers"),
    [
        ("", list(range(1, 121))),
        ("l50", [1, *range(72, 121)]),
        ("l50n", list(range(71, 121))),
        ("1-100", list(range(1, 101))),
        ("1-100n", list(range(1, 101))),
        ("100-", [1, *range(100, 121)]),
        ("100-n", list(range(100, 121))),
        ("-100", list(range(1, 101))),
        ("50", [50]),
        ("50n", [50]),
        ("50-60", [1, *range(50, 61)]),
        ("50-60n", list(range(50, 61))),
        ("n", list(range(2, 121))),
    ],
)
def test_every_range_form_shows_its_posts(thread, range_text, numbers) -> None:
    assert shown(thread, range_text) == numbers


def test_thread_url_without_a_trailing_slash_is_redirected(thread) -> None:
    response = Client().get(f"/test/read.cgi/test/{thread}")
    assert response.status_code == 301 and response["Location"] == f"/test/read.cgi/test/{thread}/"


def test_garbage_range_is_404(thread) -> None:
    assert Client().get(f"/test/read.cgi/test/{thread}/l5x").status_code == 404
