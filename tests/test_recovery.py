"""The proof: a realistic history posted through the web tier, the store destroyed, rehydrated exactly.

Every page a reader or a 2ch client can reach (board list, board tops,
archives, thread pages, subject.txt, SETTING.TXT, each .dat, the menus) is
rendered before the store is wiped and after it is rebuilt from the log, and
must be byte-identical (only the CSRF token in forms differs per request).

The history has what a board lives through: threads and replies through the
HTML form (CSRF and all) and through the write path, sage, trips, a thread
that hits its res_max and stops, threads falling off the board's cap into the
archive, a thread of 1000 posts, moderator deletions (before and after the
snapshot), the cache (Redis in production) flushed mid-way, and the log
unreachable for a while. Between the posts the log lives too: rollups, a
snapshot, late parts, and a tail left in incoming/.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from board import log as log_module
from board.boards import UNLIMITED
from board.lifecycle import keys as k
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.rollup import rollup
from board.log import get_log
from board.moderation.actions import delete_post
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from tests.helpers import make_board
from tests.lifecycle_helpers import (
    apply_incoming,
    incoming_keys,
    lifecycle_keys,
    page_diff,
    page_urls,
    read_segment,
    render_all,
)
from tests.services import free_port

TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LATER = timedelta(hours=2)  # the rollups and the snapshot run "two hours later": this hour has closed


class Poster:
    """A browser posting through the HTML form, with the CSRF token the page gave it."""

    def __init__(self, address: str) -> None:
        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)

    def post(self, board: str, page: str, **fields: str):
        html = self.client.get(page).content.decode()
        token = TOKEN_RE.search(html)
        assert token, f"no form on {page}"
        data = {"FROM": "", "mail": "", "MESSAGE": "", **fields, "csrfmiddlewaretoken": token.group(1)}
        return self.client.post(f"/{board}/post", data)

    def new_thread(self, board: str, subject: str, body: str, **fields: str) -> str:
        response = self.post(board, f"/{board}/", subject=subject, MESSAGE=body, **fields)
        assert "書きこみました" in response.content.decode(), response.content.decode()[:300]
        apply_incoming()  # the workers' fan-out; the next thread's fall-off check reads the store
        return queries.threads(get_store(), board)[0].key

    def reply(self, board: str, thread: str, body: str, **fields: str):
        return self.post(board, f"/test/read.cgi/{board}/{thread}/l50", key=thread, MESSAGE=body, **fields)


def reply(board: str, thread: str, body: str, name: str = "", mail: str = "", address: str = "192.0.2.10"):
    return submit(board, thread, Submission(name=name, mail=mail, body=body), address)


def now() -> datetime:
    return datetime.now(UTC)


def maintain() -> None:
    """The workers and beat, two hours on: fan-out, rollup of the closed hour, snapshot."""
    apply_incoming()
    rollup(get_log(), get_store(), now=now() + LATER)
    snapshot_and_bundle(get_log(), now=now() + LATER)


def log_outage(settings, poster: Poster, board: str, thread: str) -> None:
    """The log endpoint unreachable for a while: posts are refused, clearly, and nothing is written."""
    healthy = settings.UTAKATA_LOG
    keys_before, store_before = incoming_keys(), queries.thread(get_store(), board, thread)
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "utakata-down",
        "OPTIONS": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "connect_timeout": "0.3", "max_attempts": "1"},
    }
    log_module.handler.reset()
    try:
        response = poster.reply(board, thread, "届かない書き込み")
        assert response.status_code == 503 and r.LOG_DOWN in response.content.decode()
        with pytest.raises(Refused) as refusal:
            submit(board, None, Submission(subject="立たないスレ", body="x"), "192.0.2.99")
        assert refusal.value.message == r.LOG_DOWN
    finally:
        settings.UTAKATA_LOG = healthy
        log_module.handler.reset()
    assert incoming_keys() == keys_before, "a refused post must write nothing"
    assert queries.thread(get_store(), board, thread) == store_before


def realistic_history(settings, long_thread: int = 1000) -> dict:
    """Post the history described in the module docstring; return what the checks need."""
    make_board("test", "テスト板", **UNLIMITED, res_max=20, thread_cap=4)
    make_board("news", "ニュース速報", **UNLIMITED, top_threads=3)
    alice, bob = Poster("203.0.113.1"), Poster("203.0.113.2")

    first = alice.new_thread("test", "雑談スレ", "まったり語りましょう", FROM="アリス#secret")
    bob.reply("test", first, ">>1 よろしく", mail="sage")
    alice.reply("test", first, "こちらこそ\n二行目", FROM="アリス#secret")
    for i in range(4, 21):
        reply("test", first, f"{i}げと", mail="sage" if i % 4 == 0 else "")
    with pytest.raises(Refused, match="20を超えました"):
        reply("test", first, "21は書けない")

    others = [bob.new_thread("test", f"スレ{n}", f"{n}番目のスレ") for n in range(2, 5)]
    reply("test", others[0], "上げ")
    delete_post("test", first, 5, reason="削除依頼")
    cache.clear()  # Redis flushed: the number hints are gone, the log's claims are not
    reply("test", others[1], "フラッシュ後のレス")
    log_outage(settings, alice, "test", others[1])

    long = alice.new_thread("news", "【速報】長いスレ", "1000まで行くぞ")
    for i in range(2, long_thread + 1):
        reply("news", long, f"{i}", name="名無し#trip" if i % 97 == 0 else "", mail="sage" if i % 5 == 0 else "")
    apply_incoming()
    time.sleep(0.005)
    mid = now()
    mid_pages = render_all(page_urls())
    time.sleep(0.005)

    maintain()  # rollup + snapshot: everything so far is in hourly/ and the snapshot
    for n in range(5, 8):
        bob.new_thread("test", f"新スレ{n}", "古いスレは落ちる")  # the cap is 4: the oldest fall off
    delete_post("test", others[0], 2, reason="スレ違い")  # a post the snapshot holds
    reply("news", alice.new_thread("news", "二つ目", "スナップショットの後"), "2")
    apply_incoming()
    rollup(get_log(), get_store(), now=now() + LATER)  # a late part: in hourly/, not in the snapshot
    reply("test", queries.threads(get_store(), "test")[0].key, "まだincomingにある")
    apply_incoming()
    return {"mid": mid, "mid_pages": mid_pages, "long": long, "first": first}


def wipe_and_rehydrate(*args: str) -> str:
    get_store().flush()
    out = StringIO()
    call_command("rehydrate", "--no-progress", *args, stdout=out)
    return out.getvalue()


def assert_same_pages(before: dict, after: dict) -> None:
    assert after == before, page_diff(before, after)


def test_the_history_exercises_what_it_claims(settings):
    facts = realistic_history(settings, long_thread=30)
    log = get_log()
    assert lifecycle_keys(k.SNAPSHOTS) and incoming_keys()
    assert any(".1.jsonl.gz" in key for key in lifecycle_keys(k.HOURLY)), "a late part"
    assert queries.thread(get_store(), "test", facts["first"]).archived, "the first thread fell off"
    assert queries.thread(get_store(), "news", facts["long"]).count == 30
    assert log.exists(k.LATEST)


def test_after_a_realistic_history_a_wiped_store_is_rehydrated_to_byte_identical_pages(settings):
    realistic_history(settings)
    urls = page_urls()
    assert len(urls) > 20
    before = render_all(urls)
    assert all(status == 200 for status, _, _ in before.values())
    out = wipe_and_rehydrate()
    assert "rehydrated" in out
    assert_same_pages(before, render_all(urls))


def test_point_in_time_restore_gives_the_pages_as_they_were_then(settings):
    facts = realistic_history(settings, long_thread=40)
    wipe_and_rehydrate("--until", facts["mid"].isoformat())
    assert_same_pages(facts["mid_pages"], render_all(list(facts["mid_pages"])))


def kill_at(monkeypatch, step: str) -> None:
    """Make the next rollup die at a step, as a SIGKILL there would leave things."""
    log = get_log()
    if step in ("data", "manifest"):
        real_create = type(log).create
        calls = []

        def create(self, key, data):
            calls.append(key)
            if (step == "data" and key.endswith(k.DATA)) or (step == "manifest" and key.endswith(k.MANIFEST)):
                raise RuntimeError("SIGKILL")
            return real_create(self, key, data)

        monkeypatch.setattr(type(log), "create", create)
    elif step == "deletes":
        real_delete = type(log).delete

        def delete(self, keys):
            keys = list(keys)
            real_delete(self, keys[: len(keys) // 2])
            raise RuntimeError("SIGKILL")

        monkeypatch.setattr(type(log), "delete", delete)
    else:
        monkeypatch.setattr("board.readmodel.batch.BatchApplier.flush", _die)


def _die(*args, **kwargs):
    raise RuntimeError("SIGKILL")


@pytest.mark.parametrize("step", ["data", "manifest", "store", "deletes"])
def test_a_rollup_killed_mid_way_and_run_again_changes_no_page(settings, monkeypatch, step):
    realistic_history(settings, long_thread=40)
    urls = page_urls()
    before = render_all(urls)
    tail = len(incoming_keys())
    kill_at(monkeypatch, step)
    first = rollup(get_log(), get_store(), now=now() + LATER)
    monkeypatch.undo()
    assert first.failed and "SIGKILL" in first.failed[0].error
    if step != "deletes":  # by then the kept claims are marked: the tail may be empty
        assert len(incoming_keys()) == tail, "nothing is deleted before the segment is written and applied"
    again = rollup(get_log(), get_store(), now=now() + LATER)
    assert not again.failed and incoming_keys() == []
    ids = [e.id for key in lifecycle_keys(k.HOURLY) if key.endswith(k.DATA) for e in read_segment(key)]
    assert len(ids) == len(set(ids)), "no event doubled"
    assert render_all(urls) == before
    wipe_and_rehydrate()
    assert_same_pages(before, render_all(urls))
