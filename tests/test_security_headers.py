"""Production settings: check --deploy with the README's environment, the headers, and pages fit for the CSP.

The settings are read from the environment once, at import; so the production
environment is tried in a child process of its own (manage.py, or a small
script driving Django's test client), not by overriding settings here.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings

from board.web import readyourwrites
from tests import services

ROOT = Path(__file__).resolve().parent.parent
SECTION = "### Production settings"
TEMPLATE_DIRS = [ROOT / "templates", ROOT / "board" / "templates"]


def documented_environment() -> dict[str, str]:
    """The indented NAME=value lines of README's "Production settings" block, the secret filled in."""
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n#", 1)[0]
    env = dict(re.findall(r"^    ((?:UTAKATA|REDIS)_\w+)=(.+)$", section, re.M))
    assert "UTAKATA_SECRET_KEY" in env, "the README's production block names the secret"
    env["UTAKATA_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = services.project_env(UTAKATA_DEBUG="0", UTAKATA_DATA_DIR=str(tmp_path), **documented_environment())
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_with_the_documented_production_environment_prints_no_warning(tmp_path) -> None:
    done = check_deploy(production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr


def test_check_deploy_without_tls_warns_about_hsts_and_the_redirect(tmp_path) -> None:
    done = check_deploy(production_env(tmp_path, UTAKATA_TLS="0"))
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W008" in done.stderr


def test_a_proxy_ssl_header_not_shaped_like_a_meta_key_stops_the_start(tmp_path) -> None:
    done = check_deploy(production_env(tmp_path, UTAKATA_PROXY_SSL_HEADER="X-Forwarded-Proto"))
    assert done.returncode != 0
    assert "ImproperlyConfigured: UTAKATA_PROXY_SSL_HEADER" in done.stderr


# What a browser gets from the site running with the documented environment: requests made with
# Django's test client in a child process, on the in-memory log and store with one board.
REQUESTS = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("createboard", "news", "ニュース", "--set", "cooldown=0")
client = Client()
https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "board.example"}
plain = {"HTTP_HOST": "board.example"}
answers = {}
def keep(name, response):
    answers[name] = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {k: {"secure": bool(m["secure"]), "value": m.value} for k, m in response.cookies.items()},
        "body": response.content.decode("cp932", "replace")[:2000],
    }
keep("https", client.get("/news/", **https))
keep("plain", client.get("/news/", **plain))
keep("healthz", client.get("/healthz", **plain))
keep("readyz", client.get("/readyz", **plain))
form = "bbs=news&time=1700000000&subject=s&FROM=&mail=&MESSAGE=hello&submit=x"
keep("posted", client.generic("POST", "/test/bbs.cgi", form.encode(), "application/x-www-form-urlencoded", **https))
json.dump(answers, sys.stdout)
"""


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> dict:
    env = production_env(
        tmp_path_factory.mktemp("production"),
        REDIS_URL="",
        UTAKATA_LOG_URL="memory://production",
        UTAKATA_STORE_URL="memory://production",
    )
    done = subprocess.run(
        [sys.executable, "-c", REQUESTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_https_pages_carry_hsts_for_a_year_with_subdomains_and_preload(answers) -> None:
    assert answers["https"]["status"] == 200
    assert answers["https"]["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_plain_http_is_redirected_to_https(answers) -> None:
    assert answers["plain"]["status"] == 301
    assert answers["plain"]["headers"]["Location"] == "https://board.example/news/"


@pytest.mark.parametrize("probe", ["healthz", "readyz"])
def test_health_probes_over_plain_http_are_answered_as_json_not_redirected(answers, probe) -> None:
    answer = answers[probe]
    assert answer["status"] == 200 and "Location" not in answer["headers"]
    assert answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["status"] in ("alive", "ready", "degraded")


def test_pages_carry_a_content_security_policy_without_inline_script_or_style(answers) -> None:
    policy = dict(
        part.strip().split(" ", 1) for part in answers["https"]["headers"]["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in answers["https"]["headers"]["Content-Security-Policy"]


def test_the_read_your_writes_cookie_is_secure_under_tls(answers) -> None:
    posted = answers["posted"]
    assert "2ch_X:true" in posted["body"]
    assert posted["cookies"][readyourwrites.COOKIE]["secure"] is True


def test_the_read_your_writes_cookie_is_not_secure_without_secure_cookies() -> None:
    with override_settings(SESSION_COOKIE_SECURE=False):
        response = HttpResponse()
        readyourwrites.remember(response, "test", "1700000000", 2)
    assert response.cookies[readyourwrites.COOKIE]["secure"] == ""


# --- every page fits the policy: no inline script, style or event handler ------------------------------

INLINE = [
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style[\s>]", re.I), "a <style> element"),
    (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I), "an event-handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def admin_templates_in_use() -> list[Path]:
    """Django's admin templates the moderation site renders (it registers no model pages)."""
    import django.contrib.admin

    base = Path(django.contrib.admin.__file__).parent / "templates"
    names = ["admin/base.html", "admin/base_site.html", "admin/login.html", "admin/logout.html"]
    names += ["admin/color_theme_toggle.html", "registration/logged_out.html"]
    return [base / name for name in names if (base / name).exists()]


def every_template() -> list[Path]:
    ours = [path for folder in TEMPLATE_DIRS if folder.exists() for path in folder.rglob("*.html")]
    return ours + admin_templates_in_use()


@pytest.mark.parametrize("template", every_template(), ids=lambda p: str(p).split("templates/")[-1])
def test_no_template_has_inline_script_or_style(template: Path) -> None:
    text = template.read_text()
    found = [what for pattern, what in INLINE if pattern.search(text)]
    assert not found, f"{template}: {', '.join(found)}"


def test_the_inline_check_sees_a_style_attribute_and_an_inline_script() -> None:
    sample = '<div style="x"></div><script>alert(1)</script><script src="/a.js"></script>'
    found = [what for pattern, what in INLINE if pattern.search(sample)]
    assert found == ["a style attribute", "an inline <script>"]


def test_a_refused_csrf_token_gets_the_boards_own_error_page(board) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/test/post", {"MESSAGE": "x"})
    assert response.status_code == 403
    assert "ＥＲＲＯＲ" in response.content.decode()
    assert not any(pattern.search(response.content.decode()) for pattern, _ in INLINE)
