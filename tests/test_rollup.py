"""The hourly rollup: closed hours become sorted, verified segments; nothing lost, nothing doubled."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from board.boards import UNLIMITED
from board.events import EventType, decode
from board.lifecycle import claims
from board.lifecycle import keys as k
from board.lifecycle.follow import Follower
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.manifests import read_manifest
from board.lifecycle.plan import plan_restore
from board.lifecycle.reconcile import reconcile
from board.lifecycle.rehydrate import restore
from board.lifecycle.rollup import NotClosed, rollup
from board.lifecycle.segments import SegmentWriter, upload, verify
from board.log import get_log
from board.log.layout import FLOOR, INCOMING, INCOMING_POSTS, floor_key, marker_key, post_key
from board.readmodel import queries
from board.store import get_store
from board.store.memory import MemoryStore
from board.twoch import datfile
from tests.lifecycle_helpers import (
    at,
    board_at,
    commit_at,
    history,
    hour,
    incoming_keys,
    lifecycle_keys,
    post_at,
    thread_at,
)

DAY = 60 * 24
LATER = at(DAY)  # a day after the history: every hour of it is closed


def segment_ids(key: str) -> list[str]:
    return [decode(line).id for line in gzip.decompress(get_log().read(key)).splitlines()]


def test_rollup_writes_one_sorted_segment_and_manifest_per_closed_hour():
    made = history(hours=3)
    report = rollup(get_log(), get_store(), now=LATER)
    assert [r.written for r in report.hours] == [
        [k.hourly_key(hour("2026-11-30T09"))],
        [k.hourly_key(hour("2026-11-30T10"))],
        [k.hourly_key(hour("2026-11-30T11"))],
    ]
    ids = [i for r in report.hours for i in segment_ids(r.written[0])]
    assert ids == sorted(e.id for e in made)
    manifest = read_manifest(get_log(), k.hourly_prefix(hour("2026-11-30T10")) + "manifest.json")
    assert manifest.count == 5 and manifest.stats.first == ids[7] and manifest.stats.last == ids[11]
    verify(get_log(), manifest)


def test_rollup_removes_the_incoming_objects_it_rolled_up():
    history(hours=2)
    rollup(get_log(), get_store(), now=LATER)
    assert incoming_keys() == []


def test_rollup_applies_what_it_rolls_up_to_the_store():
    made = history(hours=2)
    rollup(get_log(), get_store(), now=LATER)
    thread = queries.thread(get_store(), "test", made[1].thread)
    assert thread.count == 11


def test_rollup_leaves_hours_that_are_not_closed_in_incoming():
    history(hours=2)
    report = rollup(get_log(), get_store(), now=at(60 + 30))
    assert [r.hour for r in report.hours] == [hour("2026-11-30T09")]
    assert report.open_events == 5
    assert len(incoming_keys()) == 5


def test_an_hour_is_closed_only_after_the_grace_period(settings):
    settings.ROLLUP_GRACE_SECONDS = 600
    history(hours=1)
    assert rollup(get_log(), get_store(), now=at(60 + 9)).hours == []
    assert len(rollup(get_log(), get_store(), now=at(60 + 10)).hours) == 1


def test_rolling_up_an_open_hour_by_name_is_refused():
    history(hours=1)
    with pytest.raises(NotClosed, match="not closed yet"):
        rollup(get_log(), get_store(), now=at(30), hour=hour("2026-11-30T09"))


def test_a_second_rollup_changes_nothing():
    history(hours=2)
    rollup(get_log(), get_store(), now=LATER)
    before = {key: get_log().read(key) for key in lifecycle_keys(k.HOURLY)}
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours == []
    assert {key: get_log().read(key) for key in lifecycle_keys(k.HOURLY)} == before


def test_a_late_commit_for_a_rolled_up_hour_becomes_an_extra_part():
    made = history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    late = post_at("test", made[1].thread, 7, at(59))
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours[0].written == ["hourly/2026/11/30/09.1.jsonl.gz"]
    assert segment_ids("hourly/2026/11/30/09.1.jsonl.gz") == [late.id]
    assert incoming_keys() == []


def test_a_crash_after_the_data_and_before_the_manifest_is_completed_by_the_next_run(monkeypatch):
    made = history(hours=1)
    log = get_log()
    real_create = type(log).create

    def crash_on_manifest(self, key, data):
        if key.endswith(k.MANIFEST):
            raise RuntimeError("killed")
        return real_create(self, key, data)

    monkeypatch.setattr(type(log), "create", crash_on_manifest)
    report = rollup(log, get_store(), now=LATER)
    assert "killed" in report.hours[0].error
    assert lifecycle_keys(k.HOURLY) == ["hourly/2026/11/30/09.jsonl.gz"]
    assert len(incoming_keys()) == len(made)
    monkeypatch.undo()

    report = rollup(log, get_store(), now=LATER)
    assert report.hours[0].written == [] and report.hours[0].already == len(made)
    assert lifecycle_keys(k.HOURLY) == ["hourly/2026/11/30/09.jsonl.gz", "hourly/2026/11/30/09.manifest.json"]
    assert incoming_keys() == []


def test_a_crash_while_applying_deletes_nothing_and_the_next_run_finishes(monkeypatch):
    made = history(hours=1)
    monkeypatch.setattr("board.readmodel.batch.BatchApplier.flush", _raise)
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours[0].error and len(incoming_keys()) == len(made)
    monkeypatch.undo()
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours[0].written == [] and incoming_keys() == []
    assert queries.thread(get_store(), "test", made[1].thread).count == 6


def test_a_crash_while_deleting_is_finished_by_the_next_run(monkeypatch):
    made = history(hours=1)
    log = get_log()
    real_delete = type(log).delete
    monkeypatch.setattr(type(log), "delete", lambda self, keys: real_delete(self, list(keys)[:3]) or _raise())
    rollup(log, get_store(), now=LATER)
    left = len(made) - 1 - 3  # the thread's highest claim was kept and marked before the deletes
    assert len(incoming_keys()) == left
    monkeypatch.undo()
    report = rollup(log, get_store(), now=LATER)
    assert report.hours[0].written == [] and report.hours[0].already == left
    assert incoming_keys() == []
    assert segment_ids("hourly/2026/11/30/09.jsonl.gz") == sorted(e.id for e in made)


def test_two_rollups_of_the_same_hour_at_once_write_one_segment():
    made = history(hours=1, per_hour=30)
    barrier = threading.Barrier(2)
    reports = []

    def run():
        barrier.wait()
        reports.append(rollup(get_log(), get_store(), now=LATER))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not r.failed for r in reports)
    assert lifecycle_keys(k.HOURLY) == ["hourly/2026/11/30/09.jsonl.gz", "hourly/2026/11/30/09.manifest.json"]
    assert segment_ids("hourly/2026/11/30/09.jsonl.gz") == sorted(e.id for e in made)
    assert incoming_keys() == []


def test_a_rollup_that_lost_the_race_for_a_part_writes_only_what_the_winner_lacks(monkeypatch):
    made = history(hours=1)
    from board.lifecycle import rollup as module

    def racer_wins(log, the_hour, bundled):
        # A racer that saw every event but the last wrote part 0 just after our listing.
        key = k.hourly_key(the_hour, 0)
        with SegmentWriter() as writer:
            writer.write_all(sorted(made[:-1], key=lambda e: e.id))
            manifest = module.hourly_manifest(key, the_hour, 0, writer.finish())
            upload(log, writer, manifest, k.manifest_key(key))
        return [], set()

    monkeypatch.setattr(module, "_existing_parts", racer_wins)
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours[0].written == ["hourly/2026/11/30/09.1.jsonl.gz"]
    assert report.hours[0].already == len(made) - 1
    assert segment_ids("hourly/2026/11/30/09.1.jsonl.gz") == [made[-1].id]
    assert incoming_keys() == []


def test_an_unreadable_incoming_object_is_reported_and_left_in_place():
    history(hours=1)
    get_log().create("incoming/events/garbage.json", b"{not json")
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.skipped[0][0] == "incoming/events/garbage.json"
    assert incoming_keys() == ["incoming/events/garbage.json"]


def test_rollup_command_rolls_one_hour(capsys):
    board_at("test", at(0))
    thread_at("test", at(70))
    call_command("rollup", "--hour", "2026-11-30T09")
    out = capsys.readouterr().out
    assert "2026-11-30T09: 1 event(s) -> hourly/2026/11/30/09.jsonl.gz" in out
    assert len(incoming_keys()) == 1


def test_rollup_command_refuses_an_hour_in_the_future():
    with pytest.raises(CommandError, match="not closed yet"):
        call_command("rollup", "--hour", "2999-01-01T00")


def test_rollup_command_rejects_a_malformed_hour():
    with pytest.raises(CommandError, match="not an hour"):
        call_command("rollup", "--hour", "yesterday")


def test_manifest_is_readable_json_naming_its_data():
    history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    raw = json.loads(get_log().read("hourly/2026/11/30/09.manifest.json"))
    assert raw["key"] == "hourly/2026/11/30/09.jsonl.gz" and raw["kind"] == "hourly"
    assert raw["stats"]["types"] == {EventType.BOARD_CREATED: 1, EventType.POST_CREATED: 5, EventType.THREAD_CREATED: 1}


def _raise(*args, **kwargs):
    raise RuntimeError("killed")


# --- kept claims: each live thread's highest claim stays in incoming/, marked once rolled up ---------


def incoming_objects(prefix: str = INCOMING) -> list[str]:
    """Everything under incoming/, kept claims and markers included (incoming_keys shows only the pending)."""
    return [info.key for info in get_log().list(prefix)]


def kept(thread: str, number: int) -> list[str]:
    """What a live thread keeps in incoming/ once number, its highest, is rolled up: floor, claim, marker."""
    return [floor_key("test", thread, number), post_key("test", thread, number), marker_key("test", thread, number)]


def test_rollup_keeps_the_highest_claim_of_a_live_thread_and_writes_its_marker_and_floor():
    made = history(hours=2)
    thread = made[1].thread
    rollup(get_log(), get_store(), now=LATER)
    assert incoming_objects() == kept(thread, 11)
    assert get_log().read(marker_key("test", thread, 11)) == b""
    assert incoming_keys() == []


def test_rollup_keeps_the_highest_claim_listed_even_when_its_hour_is_not_rolled():
    made = history(hours=2)
    thread = made[1].thread
    rollup(get_log(), get_store(), now=at(60 + 30))  # 09:00-10:00 is closed, 10:00-11:00 is not
    assert incoming_objects(INCOMING_POSTS) == [floor_key("test", thread, 6)] + [
        post_key("test", thread, n) for n in range(7, 12)
    ]


def test_a_newer_highest_claim_replaces_the_kept_one_and_its_marker_in_the_rollup_that_rolls_it():
    made = history(hours=1)
    thread = made[1].thread
    rollup(get_log(), get_store(), now=LATER)
    post_at("test", thread, 7, at(70))
    post_at("test", thread, 8, at(75))
    rollup(get_log(), get_store(), now=at(90))  # the newer claims' hour is still open
    assert incoming_objects() == [
        floor_key("test", thread, 6),
        post_key("test", thread, 6),
        marker_key("test", thread, 6),
        post_key("test", thread, 7),
        post_key("test", thread, 8),
    ]
    report = rollup(get_log(), get_store(), now=LATER)
    assert incoming_objects() == kept(thread, 8)
    assert report.hours[0].kept == [post_key("test", thread, 8)] and report.tidied == 3


def test_rollup_drops_every_claim_and_marker_of_a_thread_whose_archival_it_rolls():
    made = history(hours=1)
    thread = made[1].thread
    rollup(get_log(), get_store(), now=LATER)
    post_at("test", thread, 7, at(70))
    commit_at(EventType.THREAD_ARCHIVED, "test", at(80), thread)
    rollup(get_log(), get_store(), now=LATER)
    assert incoming_objects() == []
    assert queries.thread(get_store(), "test", thread).archived


def test_a_kept_claim_is_not_rolled_again_by_the_next_rollup():
    made = history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.hours == []
    assert lifecycle_keys(k.HOURLY) == ["hourly/2026/11/30/09.jsonl.gz", "hourly/2026/11/30/09.manifest.json"]
    assert post_key("test", made[1].thread, 6) in incoming_objects()


def test_a_kept_claim_is_not_rolled_again_once_its_day_is_bundled_into_daily():
    made = history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    snapshot_and_bundle(get_log(), now=at(3 * DAY))
    assert lifecycle_keys(k.HOURLY) == [] and lifecycle_keys(k.DAILY)
    report = rollup(get_log(), get_store(), now=at(3 * DAY))
    assert report.hours == [] and lifecycle_keys(k.HOURLY) == []
    assert post_key("test", made[1].thread, 6) in incoming_objects()


def test_markers_left_without_any_claim_of_their_thread_are_removed():
    history(hours=1)
    get_log().create(marker_key("test", "1700000000", 5), b"")  # an archival's tidy stopped before the markers
    rollup(get_log(), get_store(), now=LATER)
    assert marker_key("test", "1700000000", 5) not in incoming_objects()


def test_reconcile_skips_kept_claims():
    history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    report = reconcile(get_log(), get_store(), now=LATER, min_age=timedelta(0))
    assert report.listed == 0 and report.checked == 0


def test_rehydrate_reads_no_kept_claim_from_the_tail():
    made = history(hours=1)
    rollup(get_log(), get_store(), now=LATER)
    store, plan = MemoryStore(uuid.uuid4().hex), plan_restore(get_log())
    report = restore(get_log(), store, plan)
    assert report.incoming_seen == set() and report.applied == len(made)
    assert Follower(get_log(), store, plan, report).step() == 0


# --- gaps and floors: a number nobody wrote is voided before any claim above it goes ------------------


def test_the_rollup_voids_a_gap_below_the_claims_it_rolls_up_and_writes_the_floor_above_it():
    made = history(hours=1)  # the thread's posts 1-6
    thread = made[1].thread
    post_at("test", thread, 8, at(50))  # 7's poster died, and Redis lost what would have settled it
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.voided == [f"test/{thread} 7"]
    assert decode(get_log().read(post_key("test", thread, 7))).payload["void"] is True
    assert incoming_objects() == [post_key("test", thread, 7), *kept(thread, 8)]


def test_a_gap_voided_by_the_rollup_lets_the_dat_go_on_past_it():
    made = history(hours=1)
    thread = made[1].thread
    post_at("test", thread, 8, at(50))
    rollup(get_log(), get_store(), now=LATER)
    reconcile(get_log(), get_store(), min_age=timedelta(0))
    assert sum(chunk.lines for chunk in datfile.open_dat(get_store(), "test", thread).chunks) == 8


def test_the_claims_of_a_thread_whose_gap_could_not_be_voided_stay_for_a_later_run(monkeypatch):
    made = history(hours=1)
    thread = made[1].thread
    post_at("test", thread, 8, at(50))
    monkeypatch.setattr(claims, "void", lambda *args: False)  # S3 refused the void
    report = rollup(get_log(), get_store(), now=LATER)
    assert report.held == {("test", thread): "the gap at 7 could not be voided"}
    assert incoming_objects(INCOMING_POSTS) == [post_key("test", thread, n) for n in (1, 2, 3, 4, 5, 6, 8)]
    monkeypatch.undo()
    rollup(get_log(), get_store(), now=LATER)
    assert floor_key("test", thread, 8) in incoming_objects()
    assert post_key("test", thread, 2) not in incoming_objects()


def test_a_thread_rolled_up_before_floors_were_kept_gets_no_void():
    board_at("test", at(0), **UNLIMITED)
    thread = thread_at("test", at(1)).thread
    get_log().delete([post_key("test", thread, 1)])  # what an older rollup left: its claims rolled away
    post_at("test", thread, 5, at(10))
    rollup(get_log(), get_store(), now=LATER)
    assert incoming_objects(INCOMING_POSTS) == kept(thread, 5)


def test_a_floor_below_a_newer_one_is_tidied_away():
    made = history(hours=1)
    thread = made[1].thread
    rollup(get_log(), get_store(), now=LATER)
    post_at("test", thread, 7, at(70))
    rollup(get_log(), get_store(), now=LATER)
    assert [key for key in incoming_objects() if key.endswith(FLOOR)] == [floor_key("test", thread, 7)]


def test_during_the_dual_write_of_a_rebuild_rollup_applies_to_both_generations():
    made = history(hours=1)
    staging = get_store().staging()
    staging.start_dual_write()
    rollup(get_log(), get_store(), now=LATER)  # the fan-out never ran: the rollup is the first to apply
    assert queries.thread(get_store(), "test", made[1].thread).count == 6
    assert queries.thread(staging, "test", made[1].thread).count == 6, "the generation being built has it too"


def test_rollup_command_names_the_gaps_it_voided(capsys):
    made = history(hours=1)
    post_at("test", made[1].thread, 8, at(50))
    call_command("rollup")
    assert f"voided test/{made[1].thread} 7: nobody wrote it" in capsys.readouterr().out
