"""manage.py rehydrate: an empty store rebuilt from snapshot + segments + tail, exactly."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command

from board.events import EventType
from board.lifecycle import keys as k
from board.lifecycle.follow import Follower
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.plan import plan_restore
from board.lifecycle.rehydrate import restore
from board.lifecycle.snapshot import latest
from board.log import get_log
from board.readmodel import objects as o
from board.readmodel import queries
from board.store import StoreError, get_store
from tests.lifecycle_helpers import (
    apply_incoming,
    at,
    incoming_keys,
    lifecycle_keys,
    post_at,
    reference_store,
    store_dump,
    three_days,
)

DAY = 60 * 24


def rehydrate(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("rehydrate", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_the_scenario_leaves_every_kind_of_source_in_the_log():
    three_days()
    assert latest(get_log()) is not None
    assert lifecycle_keys(k.DAILY) and lifecycle_keys(k.HOURLY) and incoming_keys()
    assert plan_restore(get_log()).hourly, "some hourly segments are not in the snapshot"


def test_rehydrate_rebuilds_a_wiped_store_byte_for_byte():
    three_days()
    before = store_dump()
    get_store().flush()
    rehydrate()
    assert store_dump() == before


def test_rehydrate_gives_the_store_that_applying_every_event_gives():
    timeline = three_days()
    get_store().flush()
    rehydrate()
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_rehydrate_refuses_a_store_that_holds_data():
    three_days()
    with pytest.raises(CommandError, match="not empty.*--merge.*--replace.*--if-empty"):
        rehydrate()


def test_if_empty_leaves_a_restored_store_alone():
    three_days()
    get_store().flush()
    rehydrate()
    before = store_dump()
    assert "nothing to do" in rehydrate("--if-empty")
    assert store_dump() == before


def test_if_empty_finishes_a_restore_that_was_killed_halfway():
    three_days()
    before = store_dump()
    get_store().delete(o.THREADS, "test")  # data, but no finished restore: as a killed one leaves it
    assert "merging" in rehydrate("--if-empty")
    assert store_dump() == before


def test_if_empty_restores_an_empty_store():
    three_days()
    before = store_dump()
    get_store().flush()
    rehydrate("--if-empty")
    assert store_dump() == before


def test_if_empty_on_a_brand_new_log_succeeds_and_counts_as_restored():
    out = rehydrate("--if-empty")
    assert "0 events applied" in out
    assert "nothing to do" in rehydrate("--if-empty")


def test_a_rehydrate_from_a_log_without_events_warns_naming_the_log():
    from io import StringIO

    err = StringIO()
    call_command("rehydrate", "--no-progress", stdout=StringIO(), stderr=err)
    assert f"the log at {get_log().location!r} holds no events" in err.getvalue()
    assert "UTAKATA_LOG_URL" in err.getvalue()


def test_a_rehydrate_that_applied_events_gives_no_warning():
    from io import StringIO

    three_days()
    get_store().flush()
    err = StringIO()
    call_command("rehydrate", "--no-progress", stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_merge_applies_the_log_on_top_of_what_the_store_holds():
    three_days()
    before = store_dump()
    get_store().delete(o.THREADS, "test")
    rehydrate("--merge")
    assert store_dump() == before


def test_replace_builds_beside_the_live_store_and_switches_when_complete(monkeypatch):
    import board.management.commands.rehydrate as command

    three_days()
    before = store_dump()
    get_store().store("threads", "stray", b'{"threads":{}}')  # something the log never said
    live = get_store().generation()
    seen_while_building = []
    real_restore = command.restore

    def watched(log, store, plan, **options):
        report = real_restore(log, store, plan, **options)
        reader = type(get_store())(get_store().location, get_store().options)
        seen_while_building.append((reader.generation(), queries.board(reader, "test") is not None))
        return report

    monkeypatch.setattr(command, "restore", watched)
    out = rehydrate("--replace")
    assert seen_while_building == [(live, True)], "readers kept the live generation until the switch"
    assert "switched to generation" in out and get_store().generation() > live
    assert store_dump() == before


def test_replace_applies_what_was_committed_during_the_build(monkeypatch):
    import board.management.commands.rehydrate as command

    timeline = three_days()
    thread = list(timeline.counts)[-1]
    real_restore = command.restore
    late = []

    def post_meanwhile(log, store, plan, **options):
        report = real_restore(log, store, plan, **options)
        late.append(timeline.reply(3 * DAY, thread, body="再構築中の書き込み"))
        apply_incoming()  # fan-out: into the generation still current
        return report

    monkeypatch.setattr(command, "restore", post_meanwhile)
    assert "1 event(s) committed during the build applied" in rehydrate("--replace")
    posts = queries.posts(get_store(), "test", thread, late)
    assert [p["body"] for p in posts] == ["再構築中の書き込み"]


def test_replace_switches_only_once_the_new_generation_holds_what_was_committed_during_the_build(monkeypatch):
    # The soak (bench/soak) saw it: readers lost the threads and posts of the build for seconds after the switch.
    import board.management.commands.rehydrate as command

    timeline = three_days()
    thread = list(timeline.counts)[-1]
    real_restore = command.restore
    late = []

    def post_meanwhile(log, store, plan, **options):
        report = real_restore(log, store, plan, **options)
        late.append(timeline.reply(3 * DAY, thread, body="再構築中の書き込み"))
        apply_incoming()  # fan-out: into the generation still current, where readers see it
        return report

    store_class = type(get_store())
    real_promote = store_class.promote
    held_at_switch = []

    def watched_promote(self):
        held_at_switch.append([p["body"] for p in queries.posts(self, "test", thread, late)])
        return real_promote(self)

    monkeypatch.setattr(command, "restore", post_meanwhile)
    monkeypatch.setattr(store_class, "promote", watched_promote)
    rehydrate("--replace")
    assert held_at_switch == [["再構築中の書き込み"]], "the new generation became current without the reply"


def test_a_replace_that_fails_before_the_switch_ends_the_dual_write_into_its_generation(monkeypatch):
    three_days()
    store_class = type(get_store())

    def failing_promote(self):
        raise StoreError("the store went away")

    monkeypatch.setattr(store_class, "promote", failing_promote)
    live = get_store().generation()
    with pytest.raises(CommandError, match="the store went away"):
        rehydrate("--replace")
    pointer = get_store().pointer()
    assert pointer.dual > live, "the rebuild had asked for dual write"
    assert pointer.current == live and get_store().dual_twin() is None, "writers write the live generation only"


def test_the_generation_a_replace_left_behind_is_removed_by_retire():
    three_days()
    old = get_store().generation()
    rehydrate("--replace")
    assert get_store().retire() == [old]
    gone = type(get_store())(get_store().location, {**get_store().options, "generation": str(old)})
    assert gone.is_empty()


def test_dry_run_reads_everything_and_applies_nothing():
    timeline = three_days()
    get_store().flush()
    out = rehydrate("--dry-run")
    assert f"{len(timeline.events)} events read (dry run" in out
    assert get_store().is_empty()


def test_the_report_counts_events_by_type_and_names_the_last_one():
    timeline = three_days()
    get_store().flush()
    out = rehydrate()
    assert f"{len(timeline.events)} events applied" in out
    assert "  PostDeleted: 1" in out and "  ThreadArchived: 1" in out
    assert f"last event id: {max(e.id for e in timeline.events)}" in out


def test_a_corrupt_segment_stops_the_restore_naming_the_object_and_the_fault():
    three_days()
    [segment, *_] = plan_restore(get_log()).hourly
    get_log().replace(segment.key, b"\x1f\x8b not really gzip")
    get_store().flush()
    with pytest.raises(CommandError, match=f"corrupt object {segment.key}: not a complete gzip stream") as failed:
        rehydrate("--no-image")
    # The snapshot's events were still in the write-back cache: none reached the store, none is claimed.
    assert get_store().is_empty() and "part of the restore" not in str(failed.value)
    # Its image is copied before the segment is read: that much is in the store, and the error says so.
    with pytest.raises(CommandError, match=f"corrupt object {segment.key}") as failed:
        rehydrate()
    assert not get_store().is_empty() and "the store now holds part of the restore" in str(failed.value)
    get_store().flush()
    # Applied on top of a store with data, a failure may leave part of the restore there, and says so.
    apply_incoming()
    with pytest.raises(CommandError, match=f"corrupt object {segment.key}") as failed:
        rehydrate("--merge")
    assert "the store now holds part of the restore; fix the cause" in str(failed.value)


def test_a_segment_that_does_not_match_its_manifest_is_reported():
    three_days()
    [first, second, *_] = plan_restore(get_log()).hourly
    get_log().replace(first.key, get_log().read(second.key))
    get_store().flush()
    with pytest.raises(CommandError, match=f"corrupt object {first.key}: sha256 is"):
        rehydrate()


def test_a_missing_segment_stops_the_restore_naming_it():
    three_days()
    [segment, *_] = plan_restore(get_log()).hourly
    get_log().delete([segment.key])
    get_store().flush()
    with pytest.raises(CommandError, match=f"missing object {segment.key}"):
        rehydrate()


def test_a_missing_snapshot_stops_the_restore_naming_it():
    three_days()
    snapshot = latest(get_log())
    get_log().delete([snapshot.key, snapshot.image["key"]])
    get_store().flush()
    with pytest.raises(CommandError, match=f"missing object {snapshot.key}") as failed:
        rehydrate()
    # The very first read failed: nothing was applied, and no "part of the restore" is claimed.
    assert "part of the restore" not in str(failed.value)
    assert get_store().is_empty()


def test_a_restore_from_a_missing_bucket_says_so_and_no_more(settings, s3_endpoint):
    from board import log as log_module
    from tests import services

    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": "no-such-bucket-here/board",
        "OPTIONS": services.log_options(s3_endpoint),
    }
    log_module.handler.reset()
    with pytest.raises(CommandError, match="bucket 'no-such-bucket-here' does not exist") as failed:
        rehydrate()
    assert "part of the restore" not in str(failed.value)


def test_a_segment_bundled_away_while_the_restore_runs_is_read_from_its_bundle():
    three_days()
    before = store_dump()
    plan = plan_restore(get_log())
    # Between the plan and the reads, a snapshot takes the hourly segments and bundles them.
    snapshot_and_bundle(get_log(), now=at(4 * DAY))
    assert not any(get_log().exists(m.key) for m in plan.hourly[:1])
    get_store().flush()
    restore(get_log(), get_store(), plan)
    assert store_dump() == before


def test_progress_is_reported_for_every_event():
    timeline = three_days()
    get_store().flush()
    seen = []
    restore(get_log(), get_store(), plan_restore(get_log()), progress=seen.append)
    assert sum(seen) == len(timeline.events)


# --- point in time --------------------------------------------------------------------


@pytest.mark.parametrize("minute", [DAY // 2, DAY + 1000 + 1, DAY * 2 + 600, DAY * 2 + 1250])
def test_until_gives_the_board_as_it_was_then(minute):
    timeline = three_days()
    get_store().flush()
    rehydrate("--until", at(minute).isoformat())
    assert store_dump() == store_dump(reference_store(timeline.until(at(minute))))


def test_until_starts_from_the_newest_snapshot_before_the_time():
    three_days()
    plan = plan_restore(get_log(), at(DAY * 2 + 10))
    assert plan.snapshot is not None and plan.snapshot.seq == 2


def test_until_before_every_snapshot_replays_the_bundles_from_the_start():
    three_days()
    plan = plan_restore(get_log(), at(60))
    assert plan.snapshot is None and plan.daily


def test_until_that_needs_an_archived_bundle_explains_how_to_restore_it():
    three_days()
    bundle = lifecycle_keys(k.DAILY)[0]
    get_log().archive(bundle, "GLACIER")
    get_store().flush()
    with pytest.raises(CommandError, match=f"(?s)archived and must be restored first.*{bundle}.*Restore them"):
        rehydrate("--until", at(60).isoformat())
    assert get_store().is_empty(), "nothing is applied before the archived objects are found"


def test_a_restore_to_the_present_never_reads_daily_bundles():
    three_days()
    for key in lifecycle_keys(k.DAILY):
        if key.endswith(k.DATA):
            get_log().archive(key, "DEEP_ARCHIVE")
    before = store_dump()
    get_store().flush()
    rehydrate()
    assert store_dump() == before


def test_until_rejects_a_malformed_time():
    with pytest.raises(CommandError, match="not a time"):
        rehydrate("--until", "last tuesday")


@pytest.mark.parametrize("workers", ["0", "-2", "100000", "two"])
def test_rehydrate_refuses_a_number_of_workers_it_would_not_use_as_given(workers):
    with pytest.raises(CommandError, match=f"'{workers}': give a number of processes from 1 to 32"):
        rehydrate("--workers", workers)
    assert get_store().is_empty()


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf", "soon"])
def test_follow_refuses_an_interval_that_is_not_a_pause(interval):
    with pytest.raises(CommandError, match=f"'{interval}'"):
        rehydrate("--follow", "--interval", interval)
    assert get_store().is_empty()


# --- follow ---------------------------------------------------------------------------


def test_follow_applies_what_is_committed_after_the_restore():
    timeline = three_days()
    get_store().flush()
    plan = plan_restore(get_log())
    report = restore(get_log(), get_store(), plan)
    follower = Follower(get_log(), get_store(), plan, report)
    assert follower.step() == 0
    thread = timeline.events[-1].thread
    post_at("test", thread, timeline.counts[thread] + 1, at(3 * DAY))
    assert follower.step() == 1
    assert queries.thread(get_store(), "test", thread).count == timeline.counts[thread] + 1


def test_follow_stops_when_told():
    three_days()
    plan = plan_restore(get_log())
    follower = Follower(get_log(), get_store(), plan, restore(get_log(), get_store(), plan, dry_run=True))
    stop = threading.Event()
    steps = []
    stop_after_two = lambda applied: steps.append(applied) or (len(steps) == 2 and stop.set())  # noqa: E731
    follower.run(stop, 0.01, stop_after_two)
    assert len(steps) == 2


def test_follow_cannot_be_combined_with_until():
    with pytest.raises(CommandError, match="--follow"):
        rehydrate("--follow", "--until", at(0).isoformat())


def test_the_scenario_holds_every_kind_of_event():
    assert {e.type for e in three_days().events} == set(EventType.ALL)


# --- several processes ----------------------------------------------------------------


@pytest.fixture
def file_backends(settings, tmp_path):
    """A file log and a SQLite store: what other processes (restore workers) can share."""
    from board import log as log_module
    from board import store as store_module

    settings.UTAKATA_LOG = {"BACKEND": "board.log.local.LocalLog", "LOCATION": str(tmp_path / "log"), "OPTIONS": {}}
    settings.UTAKATA_STORE = {
        "BACKEND": "board.store.sqlite.SQLiteStore",
        "LOCATION": str(tmp_path / "store.sqlite3"),
        "OPTIONS": {},
    }
    log_module.handler.reset()
    store_module.handler.reset()
    yield tmp_path
    log_module.handler.reset()
    store_module.handler.reset()


def sqlite_rows(store) -> list[tuple]:
    return [row for row in store.items() if row[0] != "meta"]


def restored_with(workers: int, directory) -> tuple[list[tuple], object]:
    from board.store.sqlite import SQLiteStore

    store = SQLiteStore(str(directory / f"restored-{workers}.sqlite3"))
    report = restore(get_log(), store, plan_restore(get_log()), workers=workers)
    rows = sqlite_rows(store)
    store.close()
    return rows, report


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_a_restore_in_several_processes_gives_the_same_store_as_one(file_backends, workers):
    three_days()
    live = sqlite_rows(get_store())
    one, single = restored_with(1, file_backends)
    several, sharded = restored_with(workers, file_backends)
    assert one == live and several == live
    assert (sharded.applied, sharded.by_type, sharded.last_id) == (single.applied, single.by_type, single.last_id)


def test_a_corrupt_segment_found_by_a_worker_stops_the_restore_naming_it(file_backends):
    three_days()
    snapshot = latest(get_log())
    path = file_backends / "log" / snapshot.key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    get_store().flush()
    with pytest.raises(CommandError, match=f"corrupt object {snapshot.key}"):
        rehydrate("--workers", "2", "--no-image")
