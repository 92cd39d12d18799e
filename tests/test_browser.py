"""A real browser (Debian's Chromium, headless) against a real gunicorn and worker on the embedded defaults.

Embedded defaults as `make run` has them: the log in a directory, the store
in SQLite, no Redis (file cache, filesystem broker), DEBUG off and the static
files collected.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from board.boards import UNLIMITED
from tests import processes, services

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path("/tmp/utakata-thread.png")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """gunicorn and a Celery worker on the embedded defaults, with the board /test/."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make test` or `apt-get install chromium`")
    data = tmp_path_factory.mktemp("browser")
    env = services.project_env(UTAKATA_DATA_DIR=str(data), UTAKATA_DEBUG="0", UTAKATA_SECRET_KEY="browser-test")
    processes.manage(env, "collectstatic", "--noinput", "-v", "0")
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    with processes.gunicorn(env, workers=2, log_dir=data) as web, processes.celery_worker(env, log_dir=data):
        yield web


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def start_thread(page, site, subject: str, body: str) -> None:
    page.goto(site.url + "/")
    page.get_by_role("link", name="テスト板").click()
    form = page.locator("#new form")
    form.locator('input[name="subject"]').fill(subject)
    form.locator('textarea[name="MESSAGE"]').fill(body)
    form.locator('input[type="submit"]').click()
    page.get_by_text("書きこみました。").wait_for()
    page.wait_for_url("**/test/read.cgi/test/*/l50#1")  # the posted page's refresh


def write_reply(page, body: str, name: str = "") -> None:
    form = page.locator("form.post-form")
    form.locator('input[name="FROM"]').fill(name)
    form.locator('textarea[name="MESSAGE"]').fill(body)
    form.locator('input[type="submit"]').click()
    page.get_by_text("書きこみました。").wait_for()
    page.wait_for_url("**/l50#2")


def test_a_thread_started_and_replied_to_in_a_browser_shows_both_posts(page, site):
    start_thread(page, site, "ブラウザから", "最初の書き込み")
    write_reply(page, ">>1 二番目の書き込み", name="テスト#trip")
    posts = page.locator("dl.thread-posts div.post")
    assert posts.count() == 2
    assert "最初の書き込み" in posts.nth(0).inner_text()
    assert "二番目の書き込み" in posts.nth(1).inner_text()
    assert "◆" in posts.nth(1).locator(".name").inner_text()


def test_hovering_an_anchor_shows_the_post_it_points_to(page, site):
    start_thread(page, site, "ポップアップ", "アンカー先の本文")
    write_reply(page, ">>1 を見て")
    page.locator('a.anchor[data-anchor="1"]').hover()
    popup = page.locator(".anchor-popup")
    popup.wait_for()
    assert "アンカー先の本文" in popup.inner_text()
    page.screenshot(path=str(SCREENSHOT), full_page=True)
