"""Purge: a post's text (or an account's hashes) gone from every object of the log, checked in the objects' bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from board.events import EventType, decode
from board.lifecycle import keys as k
from board.lifecycle import purge as purge_module
from board.lifecycle import purgelist
from board.lifecycle.manifests import read_manifest
from board.lifecycle.purge import SETTLE, sweep
from board.lifecycle.rollup import rollup
from board.lifecycle.segments import SegmentWriter, upload
from board.lifecycle.snapshot import latest
from board.log import get_log
from board.log.layout import post_key
from board.log.memory import MemoryLog
from board.moderation.purge import purge_account, purge_post
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import get_store
from tests.lifecycle_helpers import Timeline, apply_incoming, at, commit_at, lifecycle_keys, maintain, post_at
from tests.purge_helpers import DAY, SECRET, holders, published_and_deleted, stored


class Killed(Exception):
    """A worker killed at this point."""


def purged(thread: str, number: int = 3) -> None:
    apply(get_store(), purge_post("test", thread, number, "個人情報", "root"))


def rehydrated(*args: str) -> None:
    get_store().flush()
    call_command("rehydrate", "--no-progress", *args, stdout=StringIO())


def dat(thread: str) -> str:
    from django.test import Client

    return Client().get(f"/test/dat/{thread}.dat").content.decode("cp932")


# --- what a purge removes ---------------------------------------------------------------


def test_a_deleted_posts_text_is_in_the_bundle_and_the_older_snapshot_until_purged():
    published_and_deleted()
    assert [key.split("/")[0] for key in holders()] == ["daily", "snapshots"]


def test_a_sweep_removes_a_purged_posts_text_from_every_object():
    _, thread = published_and_deleted()
    purged(thread)
    sweep(get_log())
    assert holders() == []


def test_the_purge_list_holds_identifiers_not_the_text():
    _, thread = published_and_deleted()
    purged(thread)
    entries = {key: data for key, data in stored().items() if key.startswith(purgelist.PREFIX)}
    assert list(entries) == [f"purges/posts/test/{thread}/0003.json"]
    assert holders(objects=entries) == [] and "電話" not in entries[next(iter(entries))].decode()


def test_reads_leave_purged_text_out_before_any_rewrite():
    timeline, thread = published_and_deleted()
    purged(thread)  # on the list, nothing rewritten yet
    assert holders() != []
    rehydrated("--until", at(45).isoformat())  # a time the post was there, from the older snapshot's bundle
    assert SECRET not in dat(thread) and "あぼーん" in dat(thread)
    assert queries.thread(get_store(), "test", thread).count == 3


def test_no_restore_to_any_point_in_time_shows_a_purged_post():
    _, thread = published_and_deleted()
    purged(thread)
    sweep(get_log())
    for minute in (41, 60, DAY + 95, DAY + 120):
        rehydrated("--until", at(minute).isoformat())
        assert SECRET not in dat(thread), minute
    rehydrated()
    assert SECRET not in dat(thread) and dat(thread).count("\n") == 5  # numbering kept: 5 lines


def test_purging_a_post_deletes_it_if_it_was_not_deleted(board):
    from tests.helpers import new_thread, reply

    thread = new_thread().thread
    reply("test", thread, body=f"連絡先 {SECRET}")
    reply("test", thread, body="その後")
    purged(thread, 2)
    page = dat(thread)
    assert SECRET not in page and "あぼーん" in page.splitlines()[1] and len(page.splitlines()) == 3


def test_a_purged_post_still_in_incoming_is_rewritten_in_place_and_keeps_its_number(board):
    from tests.helpers import new_thread, reply

    thread = new_thread().thread
    reply("test", thread, body=f"連絡先 {SECRET}")
    purged(thread, 2)
    sweep(get_log())
    claim = stored()[post_key("test", thread, 2)]
    assert SECRET.encode() not in claim and decode(claim).payload["purged"]
    assert holders() == []
    assert reply("test", thread, body="次").number == 3


def test_a_rollup_of_a_purged_post_writes_no_text_even_before_the_sweep():
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    purgelist.record_post(get_log(), "test", thread, 2, 0, k.ms(at(21)))
    rollup(get_log(), get_store(), now=at(200))
    assert [key for key in holders() if key.startswith("hourly/")] == []


def test_a_kept_highest_claim_is_rewritten_after_its_rollup():
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    maintain(200)  # hourly segment written; claim 2 kept as the thread's highest, marked rolled
    assert post_key("test", thread, 2) in holders()
    purged(thread, 2)
    sweep(get_log())
    assert holders() == []
    assert get_log().exists(post_key("test", thread, 2))  # numbering still sees it


# --- the rewrite ------------------------------------------------------------------------


def test_the_cleaned_object_is_under_a_new_key_its_manifest_moved_to_name_it():
    _, thread = published_and_deleted()
    bundle_manifest = next(key for key in lifecycle_keys(k.DAILY) if key.endswith(k.MANIFEST))
    before = read_manifest(get_log(), bundle_manifest)
    purged(thread)
    sweep(get_log())
    after = read_manifest(get_log(), bundle_manifest)
    assert after.key != before.key and after.key == k.rewritten_key(before.key, after.sha256)
    assert after.ident == before.ident and after.replaced == (before.key,)
    assert not get_log().exists(before.key)
    assert after.count == before.count and after.stats.types == before.stats.types


def test_a_rewritten_hourly_segment_is_still_bundled_and_removed_with_what_it_replaced():
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    t.reply(30, thread)
    maintain(200)  # rolled up, snapshot 1 holds the hour; the day is not over: no bundle yet
    purged(thread, 2)
    hourly = next(key for key in lifecycle_keys(k.HOURLY) if key.endswith(k.MANIFEST))
    old = read_manifest(get_log(), hourly).key
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MemoryLog, "delete", _kill_on(old, MemoryLog.delete))
        with pytest.raises(Killed):
            sweep(get_log())
    assert get_log().exists(old)  # killed before the old data went
    t.reply(DAY + 10, thread)
    maintain(DAY + 90)  # snapshot 2, then day 1 bundled and its hourly objects removed
    assert lifecycle_keys("hourly/2026/11/30/") == []  # day 1 bundled: its segment and what it replaced gone
    assert [key.split("/")[0] for key in holders()] == ["snapshots"]  # the killed sweep never got there
    sweep(get_log())
    assert holders() == []


def test_an_archived_object_is_pending_and_left_for_a_later_sweep():
    _, thread = published_and_deleted()
    bundle = next(key for key in lifecycle_keys(k.DAILY) if key.endswith(k.DATA))
    get_log().archive(bundle)
    purged(thread)
    report = sweep(get_log())
    assert report.pending == [bundle] and holders() == [bundle]
    entry = purgelist.entries(get_log())[0]
    assert entry.pending == [k.manifest_key(bundle)] and not entry.done


def test_an_archived_manifest_keeps_every_open_purge_pending():
    """Where the endpoint tiers small objects too, a bundle's manifest may be archived with its data."""
    _, thread = published_and_deleted()
    for key in lifecycle_keys(k.DAILY):
        get_log().archive(key)
    purged(thread)
    report = sweep(get_log())
    manifests = [key for key in lifecycle_keys(k.DAILY) if key.endswith(k.MANIFEST)]
    assert report.pending == manifests and purgelist.entries(get_log())[0].pending == manifests


# --- crashes ----------------------------------------------------------------------------


def _kill_on(key: str, real):
    def killing(self, keys):
        keys = list(keys)
        if key in keys:
            raise Killed(key)
        return real(self, keys)

    return killing


def test_a_sweep_killed_after_writing_the_new_data_leaves_a_readable_log_and_is_finished_by_the_next():
    _, thread = published_and_deleted()
    purged(thread)
    with pytest.MonkeyPatch.context() as patch:
        _kill_manifest_moves(patch)
        with pytest.raises(Killed):
            sweep(get_log())
    rehydrated("--until", at(45).isoformat())
    assert SECRET not in dat(thread)
    sweep(get_log())
    assert holders() == []
    data = [key for key in lifecycle_keys(k.DAILY) if key.endswith(k.DATA)]
    assert data == [read_manifest(get_log(), k.manifest_key(key)).key for key in data]  # no unnamed data left


def test_a_sweep_killed_after_moving_the_manifest_leaves_a_readable_log_and_is_finished_by_the_next():
    _, thread = published_and_deleted()
    purged(thread)
    old = next(key for key in holders() if key.startswith(k.DAILY))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MemoryLog, "delete", _kill_on(old, MemoryLog.delete))
        with pytest.raises(Killed):
            sweep(get_log())
    assert old in holders()  # no manifest names it
    rehydrated("--until", at(45).isoformat())
    assert SECRET not in dat(thread)
    sweep(get_log())
    assert holders() == []


def test_data_a_killed_sweep_left_unnamed_goes_even_when_the_list_grew_meanwhile():
    timeline, thread = published_and_deleted()
    purged(thread, 3)
    with pytest.MonkeyPatch.context() as patch:
        _kill_manifest_moves(patch)
        with pytest.raises(Killed):
            sweep(get_log())
    purged(thread, 2)  # other bytes now: the first sweep's cleaned copy (with post 2's text) is named by nothing
    sweep(get_log())
    assert holders("普通のレス") == [] and holders() == []


def test_a_restore_that_meets_data_a_purge_moved_reads_the_moved_manifest():
    from board.lifecycle.plan import plan_restore
    from board.lifecycle.rehydrate import restore

    _, thread = published_and_deleted()
    plan = plan_restore(get_log(), at(45))
    purged(thread)
    sweep(get_log())  # the plan's bundle is gone now
    get_store().flush()
    report = restore(get_log(), get_store(), plan)
    assert report.applied > 0 and SECRET not in dat(thread)


def _kill_manifest_moves(patch) -> None:
    real = MemoryLog.replace

    def killing(self, key, data):
        if key.endswith(k.MANIFEST):
            raise Killed(key)
        return real(self, key, data)

    patch.setattr(MemoryLog, "replace", killing)


# --- when a purge is done ---------------------------------------------------------------


def test_a_purge_is_looked_at_again_after_it_settled_for_objects_written_since():
    _, thread = published_and_deleted()
    purged(thread)
    sweep(get_log())
    # A job that read the log before the purge was recorded writes the text afterwards.
    late = post_at("test", thread, 3, at(40), body=f"電話番号は {SECRET} です")
    get_log().delete([post_key("test", thread, 3)])
    _write_hourly(at(40).replace(minute=0), 7, [late])
    assert len(holders()) == 1
    assert sweep(get_log()).rewritten == []  # not settled yet: only pending objects are read
    later = datetime.now(UTC) + SETTLE
    report = sweep(get_log(), now=later)
    assert len(report.rewritten) == 1 and holders() == [] and report.done == [f"posts/test/{thread}/0003"]


def test_a_done_purge_reads_nothing_again(monkeypatch):
    _, thread = published_and_deleted()
    purged(thread)
    sweep(get_log())
    sweep(get_log(), now=datetime.now(UTC) + SETTLE)
    monkeypatch.setattr(purge_module, "rewrite", lambda *a, **kw: pytest.fail("a done purge was swept again"))
    report = sweep(get_log(), now=datetime.now(UTC) + 2 * SETTLE)
    assert report.checked == 0 and report.open == []


def _write_hourly(hour: datetime, part: int, events) -> None:
    from board.lifecycle.rollup import hourly_manifest

    key = k.hourly_key(hour, part)
    with SegmentWriter() as writer:
        writer.write_all(events)
        upload(get_log(), writer, hourly_manifest(key, hour, part, writer.finish()), k.manifest_key(key))


# --- accounts ---------------------------------------------------------------------------


def test_purging_an_account_removes_its_password_and_cap_hashes_from_every_object():
    from board.moderation import accounts

    t = Timeline()
    t.board(0)
    apply(get_store(), accounts.create("gone", "a long password"))
    apply(get_store(), accounts.change("gone", "root", "cap", cap=("元", "capkey123")))
    apply(get_store(), accounts.create("root", "a long password", superuser=True))
    account = accounts.get("gone")
    secrets = [account.password, account.cap]
    apply_incoming()
    rollup(get_log(), get_store(), now=datetime.now(UTC) + SETTLE)  # the account's events in hourly/
    assert all(holders(secret) for secret in secrets)
    apply(get_store(), purge_account("gone", "退任", "root"))
    sweep(get_log())
    assert [holders(secret) for secret in secrets] == [[], []]
    assert accounts.get("gone").password == "" and not accounts.get("gone").is_active
    assert accounts.get("root").password  # the other account keeps its own


def test_an_account_event_still_in_incoming_is_rewritten_in_place():
    from board.moderation import accounts

    apply(get_store(), accounts.create("gone", "a long password"))
    hash_ = accounts.get("gone").password
    purgelist.record_account(get_log(), "gone")
    sweep(get_log())
    assert holders(hash_) == []
    [key] = [key for key in stored() if key.startswith("incoming/events/")]
    assert json.loads(stored()[key])["payload"]["username"] == "gone"


def test_the_snapshot_compacts_a_purged_post_like_a_deleted_one():
    from board.lifecycle.jobs import snapshot_and_bundle

    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    commit_at(EventType.POST_PURGED, "test", at(30), thread, 2, by="root", reason="x")  # not on the list
    maintain(200)
    snapshot_and_bundle(get_log(), now=at(300))
    assert latest(get_log()).redacted == 1
