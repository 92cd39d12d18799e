"""The archive's month pages (過去ログ倉庫): newest first, a bounded page at a time, every thread reachable once."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from board.readmodel import objects as o
from board.readmodel import queries
from board.store import get_store
from tests.helpers import DECEMBER, archived_thread

MONTH = "2026-12"
OLDER_RE = re.compile(r'href="/test/kako/2026-12/\?before=(\d+)"')
TITLE_RE = re.compile(r"アーカイブ(\d+) ")


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of about 3 threads from at most 4 windows, so a few threads make several pages."""
    monkeypatch.setattr(queries, "ARCHIVE_PAGE_THREADS", 3)
    monkeypatch.setattr(queries, "ARCHIVE_PAGE_WINDOWS", 4)
    monkeypatch.setattr(queries, "ARCHIVE_BATCH", 2)


def keys_on(html: str) -> list[str]:
    return TITLE_RE.findall(html)


def test_a_month_page_lists_its_newest_threads_first_and_links_to_older_ones(board, small_pages):
    keys = [archived_thread(DECEMBER + 5000 * i) for i in range(8)]  # one thread a window
    html = Client().get(f"/test/kako/{MONTH}/").content.decode()
    shown = keys_on(html)
    assert shown == sorted(keys, reverse=True)[: len(shown)]
    assert 3 <= len(shown) < len(keys)
    assert OLDER_RE.search(html)


def test_following_the_older_links_lists_every_archived_thread_of_the_month_once(board, small_pages):
    keys = [archived_thread(DECEMBER + 5000 * i + j) for i in range(5) for j in range(i % 3 + 1)]
    seen, url = [], f"/test/kako/{MONTH}/"
    while url:
        html = Client().get(url).content.decode()
        seen += keys_on(html)
        older = OLDER_RE.search(html)
        url = f"/test/kako/{MONTH}/?before={older.group(1)}" if older else ""
    assert seen == sorted(keys, reverse=True)


def test_a_page_reads_no_more_windows_than_a_page_allows_however_sparse_the_month(board, small_pages, monkeypatch):
    monkeypatch.setattr(queries, "ARCHIVE_PAGE_THREADS", 100)  # the windows' bound, not the threads', ends the page
    for i in range(20):
        archived_thread(DECEMBER + 5000 * i)
    store = get_store()
    asked = []
    fetch_many = store.fetch_many
    monkeypatch.setattr(store, "fetch_many", lambda bucket, keys: asked.extend(keys) or fetch_many(bucket, keys))
    page = queries.archived(store, "test", MONTH)
    assert len(asked) == queries.ARCHIVE_PAGE_WINDOWS
    assert len(page.threads) == queries.ARCHIVE_PAGE_WINDOWS and page.older is not None


def test_a_window_is_shown_whole_even_past_a_pages_threads(board, small_pages):
    keys = [archived_thread(DECEMBER + j) for j in range(5)]  # five threads in one window
    page = queries.archived(get_store(), "test", MONTH)
    assert [t.key for t in page.threads] == sorted(keys, reverse=True)
    assert page.older is None


def test_a_thread_of_the_month_before_is_not_listed_in_a_window_the_months_share(board, small_pages):
    before, first = archived_thread(DECEMBER - 1), archived_thread(DECEMBER)  # 23:59:59 and 00:00:00 JST
    assert o.window_of(before) == o.window_of(first) and o.month_of(before) == "2026-11"
    assert [t.key for t in queries.archived(get_store(), "test", MONTH).threads] == [first]
    assert [t.key for t in queries.archived(get_store(), "test", "2026-11").threads] == [before]


def test_a_malformed_page_cursor_is_a_404_that_says_why(board, settings):
    settings.DEBUG = False
    archived_thread(DECEMBER)
    response = Client().get(f"/test/kako/{MONTH}/?before=abc")
    assert response.status_code == 404
    assert "過去ログのページの指定が正しくありません。" in response.content.decode()


@pytest.mark.parametrize("month", ["9999-99", "2020-01"])
def test_a_month_with_no_archive_is_a_404_that_says_why(board, settings, month):
    settings.DEBUG = False
    archived_thread(DECEMBER)
    response = Client().get(f"/test/kako/{month}/")
    assert response.status_code == 404
    assert "この月の過去ログはありません。" in response.content.decode()
