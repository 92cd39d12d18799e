"""A moderator in a real browser (headless Chromium) against real gunicorn and worker processes.

Signs in to the moderation site, finds a post by its daily ID, deletes it
with a reason, and the dat a 2ch client reads shows the あぼーん line. The
test saves screenshots of the posts page and of the audit page.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from board.boards import UNLIMITED
from tests import processes, services
from tests.test_browser import CHROMIUM, LAUNCH_ARGS

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp")
USERNAME, PASSWORD = "chief", "a long enough password"


@pytest.fixture(scope="module")
def site_env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("browser-admin")
    return services.project_env(
        UTAKATA_DATA_DIR=str(data),
        UTAKATA_DEBUG="0",
        UTAKATA_SECRET_KEY="browser-admin-test",
        UTAKATA_ADMIN_USERNAME=USERNAME,
        UTAKATA_ADMIN_PASSWORD=PASSWORD,
    )


@pytest.fixture(scope="module")
def site(site_env):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make test` or `apt-get install chromium`")
    env, data = site_env, site_env["UTAKATA_DATA_DIR"]
    processes.manage(env, "collectstatic", "--noinput", "-v", "0")
    processes.seed_board(env, "test", "テスト板", **UNLIMITED)
    processes.manage(env, "createmoderator", "--from-env")
    with processes.gunicorn(env, workers=2, log_dir=data) as web, processes.celery_worker(env, log_dir=data):
        yield web


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def sign_in(page, url: str) -> None:
    page.goto(url + "/admin/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.get_by_text("担当の板").wait_for()


def test_a_moderator_finds_a_post_by_its_id_and_deletes_it_with_a_reason(page, site):
    poster = processes.BoardClient(site.url)
    thread = poster.new_thread("test", "管理のテスト", "最初の書き込み")
    poster.reply("test", thread, "消されるべき書き込み")
    dat = lambda: requests.get(f"{site.url}/test/dat/{thread}.dat", timeout=10).content.decode("cp932")  # noqa: E731
    processes.eventually(lambda: dat().count("\n") == 2, 10, "both posts applied by the worker")
    daily_id = dat().splitlines()[1].split("<>")[2].split("ID:")[1]

    sign_in(page, site.url)

    page.goto(f"{site.url}/admin/posts/?id={daily_id}")
    rows = page.locator("tr.post-row")
    rows.first.wait_for()
    assert rows.count() == 2  # the poster's ID is on both posts
    page.screenshot(path=str(SCREENSHOTS / "utakata-admin-posts.png"), full_page=True)

    rows.filter(has_text="消されるべき").locator("a").first.click()
    # A superuser's post also carries the purge form, with its own reason field.
    delete_form = page.locator('div.moderation-post[id="2"] form').filter(has=page.locator('button[value="delete"]'))
    delete_form.locator('input[name="reason"]').fill("荒らしのため")
    delete_form.locator('button[value="delete"]').click()
    page.get_by_text("レスの削除：完了しました").wait_for()

    processes.eventually(lambda: dat().splitlines()[1].startswith("あぼーん<>あぼーん"), 10, "the あぼーん line")
    page.goto(site.url + "/admin/audit/")
    page.get_by_text("荒らしのため").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "utakata-admin-audit.png"), full_page=True)
    for name in ("utakata-admin-posts.png", "utakata-admin-audit.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000


def test_a_superuser_reads_the_log_health_page_and_its_charts_without_a_csp_violation(page, site, site_env):
    refused: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    poster = processes.BoardClient(site.url)
    thread = poster.new_thread("test", "ログの状態のテスト", "数えられる書き込み")
    poster.reply("test", thread, "もう一つ")
    # What beat queues (the tick every minute, the census every UTAKATA_HEALTH_CENSUS_SECONDS), run by
    # the site's real worker.
    for task in ("utakata.lifecycle.due", "utakata.health.census"):
        subprocess.run(
            [str(processes.BIN / "celery"), "-A", "boards_site", "call", task],
            env=site_env,
            cwd=processes.ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def loghealth() -> str:  # exits 1 (tick late) until the tick's look is recorded
        done = subprocess.run(
            [sys.executable, "manage.py", "loghealth"], env=site_env, cwd=processes.ROOT, capture_output=True, text=True
        )
        return done.stdout

    processes.eventually(
        lambda: "census: counted" in (out := loghealth()) and "tick: on time" in out,
        30,
        "the tick looked at the log and the census task counted it",
    )

    sign_in(page, site.url)
    page.get_by_role("link", name="ログの状態").click()
    page.get_by_text("ロールアップ待ち (incoming/)").wait_for()
    assert page.get_by_text("ログは健全です").is_visible()
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    bar = charts.first.locator("rect.bar").first
    # Coloured by static/moderation/loghealth.css, which the CSP lets in (SVG's default fill is black).
    assert bar.evaluate("el => getComputedStyle(el).fill") not in ("", "rgb(0, 0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "utakata-admin-log-health.png"), full_page=True)
    assert (SCREENSHOTS / "utakata-admin-log-health.png").stat().st_size > 10_000

    page.goto(f"{site.url}/test/")
    page.goto(f"{site.url}/test/read.cgi/test/{thread}/l50")
    assert refused == []
