"""Asking for a purge: the moderation site (superusers only), manage.py purge, and the Celery task."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from board.events import Event, EventType, decode
from board.lifecycle import purgelist
from board.lifecycle.purge import sweep_lease
from board.log import get_log
from board.moderation import accounts
from board.moderation.audit import actions
from board.readmodel.moderation import JST
from board.tasks.lifecycle import purge_sweep
from tests.helpers import log_keys, twice_at_once
from tests.purge_helpers import holders, published_and_deleted
from tests.test_admin import PASSWORD, account, post, signed_in


@pytest.fixture
def site():
    """A post with SECRET in the log's bundle and older snapshot, a moderator of /test/ and a superuser."""
    _, thread = published_and_deleted()
    account("mod", boards=("test",))
    account("root", superuser=True)
    return thread


def purge_form(client: Client, thread: str, **fields):
    page = f"/admin/threads/test/{thread}/"
    return post(client, "/admin/act/", page, board="test", thread=thread, number="3", action="purge", **fields)


def dat(thread: str) -> str:
    return Client().get(f"/test/dat/{thread}.dat").content.decode("cp932")


def committed(kind: EventType) -> list[Event]:
    """The events of this kind committed since the last rollup."""
    return [e for e in (decode(get_log().read(key)) for key in log_keys()) if e.type == kind]


def test_a_superuser_purges_a_post_from_its_thread_page(site):
    response = purge_form(signed_in("root"), site, reason="個人情報のため")
    assert response.status_code == 302
    assert "あぼーん" in dat(site).splitlines()[2] and [e.label for e in purgelist.entries(get_log())] == [
        f"posts/test/{site}/0003"
    ]
    purge_sweep()  # what the worker does with the task the request queued
    assert holders() == []


def test_a_purge_is_in_the_audit_with_who_and_why(site):
    from datetime import datetime

    purge_form(signed_in("root"), site, reason="個人情報のため")
    [found] = [a for a in actions(datetime.now(JST).date()) if a["type"] == EventType.POST_PURGED]
    assert (found["by"], found["reason"], found["number"]) == ("root", "個人情報のため", 3)


def test_a_moderator_who_is_not_a_superuser_cannot_purge(site):
    response = purge_form(signed_in("mod"), site, reason="個人情報")
    assert response.status_code == 403
    assert list(get_log().list(purgelist.PREFIX)) == []


def test_a_purge_without_a_reason_is_refused_and_records_nothing(site):
    purge_form(signed_in("root"), site, reason="")
    assert list(get_log().list(purgelist.PREFIX)) == [] and holders() != []


def test_a_superuser_purges_an_account_which_can_no_longer_sign_in(site):
    client = signed_in("root")
    page = "/admin/moderators/mod/"
    response = post(client, "/admin/moderators/mod/purge/", page, reason="退任")
    assert response.status_code == 302
    assert not accounts.get("mod").is_active and accounts.get("mod").password == ""
    assert Client().post("/admin/login/", {"username": "mod", "password": PASSWORD}).status_code == 200  # refused


def test_purging_a_purged_post_again_is_refused_saying_so_and_commits_nothing(site):
    client = signed_in("root")
    purge_form(client, site, reason="個人情報のため")
    purge_form(client, site, reason="個人情報のため")
    shown = client.get(f"/admin/threads/test/{site}/").content.decode()
    assert f"レス test/{site}/3 はすでにパージされています" in shown.lower()
    assert len(committed(EventType.POST_PURGED)) == 1


def test_a_post_purged_twice_at_once_is_purged_once(site, monkeypatch):
    from board.moderation import purge
    from board.moderation.actions import ModerationError

    second = twice_at_once(monkeypatch, purge, lambda: purge.purge_post("test", site, 3, "個人情報", "root"))
    assert isinstance(second, ModerationError) and "はたった今実行されたか、実行中です" in str(second)
    assert len(committed(EventType.POST_PURGED)) == 1


def test_a_purge_recorded_but_not_committed_is_made_again(site):
    purgelist.record_post(get_log(), "test", site, 3, 0, 2**62)  # a request that failed half-way
    purge_form(signed_in("root"), site, reason="個人情報のため")
    assert len(committed(EventType.POST_PURGED)) == 1


def test_purging_a_purged_account_again_is_refused_saying_so_and_commits_nothing(site):
    client = signed_in("root")
    for _ in range(2):
        post(client, "/admin/moderators/mod/purge/", "/admin/moderators/mod/", reason="退任")
    shown = client.get("/admin/moderators/mod/").content.decode()
    assert "アカウント &#x27;mod&#x27; はすでにパージされています" in shown.lower()
    assert len(committed(EventType.MODERATOR_PURGED)) == 1


def test_the_purge_command_records_deletes_and_rewrites(site):
    out = StringIO()
    call_command("purge", "post", "test", site, "3", "--reason", "個人情報", stdout=out)
    assert f"purge of posts/test/{site}/0003 recorded" in out.getvalue()
    assert "2 object(s) rewritten" in out.getvalue() and holders() == []


def test_the_purge_command_needs_a_reason(site):
    with pytest.raises(CommandError, match="--reason is required"):
        call_command("purge", "post", "test", site, "3", stdout=StringIO())


@pytest.mark.parametrize("number", ["²", "٣", "3a"])
def test_the_purge_command_refuses_a_post_number_that_is_not_ascii_digits(site, number):
    before = log_keys()
    with pytest.raises(CommandError, match="purge post BOARD THREAD NUMBER"):
        call_command("purge", "post", "test", site, number, "--reason", "個人情報", stdout=StringIO())
    assert log_keys() == before


def test_the_purge_command_with_the_store_down_says_so_and_exits_non_zero(site, monkeypatch):
    from board.readmodel import queries
    from board.store import StoreUnavailable

    def down(*args, **kwargs):
        raise StoreUnavailable("riak: no node answered")

    before = log_keys()
    monkeypatch.setattr(queries, "thread", down)
    with pytest.raises(CommandError, match="purge failed: riak: no node answered"):
        call_command("purge", "post", "test", site, "3", "--reason", "個人情報", stdout=StringIO())
    assert log_keys() == before


def test_a_purge_the_store_cannot_apply_yet_still_queues_its_sweep(site, monkeypatch):
    from board.moderation import actions as moderation_actions
    from board.moderation import purge
    from board.store import StoreUnavailable

    def down(*args, **kwargs):
        raise StoreUnavailable("riak: no node answered")

    queued: list[str] = []
    monkeypatch.setattr(moderation_actions, "apply", down)
    monkeypatch.setattr(purge_sweep, "delay", lambda: queued.append("sweep"))
    with pytest.raises(moderation_actions.NotApplied, match="はログに記録されましたが"):
        purge.purge_post("test", site, 3, "個人情報", "root")
    assert queued == ["sweep"] and [e.label for e in purgelist.entries(get_log())] == [f"posts/test/{site}/0003"]


def test_a_dry_run_lists_what_would_be_rewritten_and_writes_nothing(site):
    before = holders()
    out = StringIO()
    call_command("purge", "post", "test", site, "3", "--dry-run", stdout=out)
    assert [line for line in out.getvalue().splitlines() if line.startswith("would rewrite")] == [
        f"would rewrite {key}" for key in before
    ]
    assert holders() == before and list(get_log().list(purgelist.PREFIX)) == []


def test_a_dry_runs_summary_says_what_a_sweep_would_do_not_that_a_purge_is_open(site):
    out = StringIO()
    call_command("purge", "post", "test", site, "3", "--dry-run", stdout=out)
    summary = out.getvalue().splitlines()[-1]
    # A first sweep leaves a purge open until a later check finds nothing newer (board/lifecycle/purge.py).
    assert summary.endswith("purges a sweep would finish: 0, would leave open: 1 (nothing recorded)")
    assert "still open" not in out.getvalue()


def test_purge_status_lists_the_purges_and_what_is_left(site):
    call_command("purge", "post", "test", site, "3", "--reason", "個人情報", stdout=StringIO())
    out = StringIO()
    call_command("purge", "status", stdout=out)
    assert f"posts/test/{site}/0003: recorded " in out.getvalue() and ", open" in out.getvalue()


def test_the_task_sweeps_and_a_second_one_at_once_is_skipped(site):
    purgelist.record_post(get_log(), "test", site, 3, 0, 2**62)
    other = sweep_lease().take("another worker")
    purge_sweep()
    assert holders() != []  # another sweep holds the lock: this one did nothing
    sweep_lease().release(other)
    purge_sweep()
    assert holders() == []


@pytest.mark.parametrize("what", ["status", "sweep"])
def test_purge_status_and_sweep_refuse_arguments_they_would_ignore(what):
    with pytest.raises(CommandError, match=f"purge {what} takes no arguments"):
        call_command("purge", what, "test", "123", stdout=StringIO())


def test_a_purge_asked_by_nobody_is_refused_and_records_nothing(site):
    with pytest.raises(CommandError, match="--by .* cannot be empty"):
        call_command("purge", "post", "test", site, "3", "--reason", "個人情報", "--by", " ", stdout=StringIO())
    assert list(get_log().list(purgelist.PREFIX)) == []
