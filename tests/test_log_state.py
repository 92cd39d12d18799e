"""The log's state as the tick sees it (board/lifecycle/state.py): what /readyz shows and the tick decides from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from board.lifecycle import keys as k
from board.lifecycle import state as logstate
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.manifests import read_manifest
from board.lifecycle.rollup import rollup
from board.lifecycle.snapshot import latest
from board.log import get_log
from board.store import get_store
from tests.lifecycle_helpers import board_at, post_at, thread_at


def now() -> datetime:
    return datetime.now(UTC)


def test_an_empty_log_has_no_backlog_and_nothing_made():
    state = logstate.look(get_log())
    assert (state.backlog, state.oldest_pending, state.snapshot, state.last_rollup, state.last_bundle) == (
        0,
        None,
        None,
        None,
        None,
    )


def test_the_backlog_counts_the_events_waiting_in_incoming_and_the_age_of_the_oldest():
    started = now()
    board_at("test", started)
    thread_at("test", started)
    # A minute later, within the rollup's grace: their hour is still open whatever the clock says.
    later = started + timedelta(minutes=1)
    state = logstate.look(get_log(), later)
    assert state.backlog == 2 and state.closed_waiting == 0
    assert 59 <= state.backlog_age(later) <= 61


def test_the_last_rollup_is_the_newest_hourly_segment_with_its_size_count_and_checksum():
    board_at("test", now())
    thread_at("test", now())
    rollup(get_log(), get_store(), now=now() + timedelta(hours=2))
    state = logstate.look(get_log())
    [manifest_key] = [i.key for i in get_log().list(k.HOURLY) if k.is_manifest(i.key)]
    manifest = read_manifest(get_log(), manifest_key)
    assert state.last_rollup == logstate.Made(
        manifest.key, state.last_rollup.at, manifest.stats.size, manifest.count, manifest.sha256
    )
    # The thread's highest claim stays in incoming/, marked rolled up: not backlog.
    assert (state.backlog, state.unsnapshotted) == (0, 1)


def test_the_snapshot_is_the_one_latest_names():
    board_at("test", now())
    rollup(get_log(), get_store(), now=now() + timedelta(hours=2))
    snapshot_and_bundle(get_log())
    head = latest(get_log())
    state = logstate.look(get_log())
    assert (state.snapshot_seq, state.snapshot.key, state.snapshot.sha256) == (1, head.key, head.sha256)
    assert state.unsnapshotted == 0 and state.oldest_unsnapshotted is None


def test_the_look_counts_the_objects_of_latests_image():
    board_at("test", now())
    rollup(get_log(), get_store(), now=now() + timedelta(hours=2))
    snapshot_and_bundle(get_log())
    state = logstate.look(get_log())
    assert state.snapshot_image == latest(get_log()).image["objects"] > 0
    assert logstate.LogState.from_dict(state.to_dict()).snapshot_image == state.snapshot_image


def test_the_look_sees_a_latest_without_an_image(monkeypatch):
    from board.lifecycle import images

    def no_room(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "build", no_room)
    board_at("test", now())
    rollup(get_log(), get_store(), now=now() + timedelta(hours=2))
    snapshot_and_bundle(get_log())
    state = logstate.look(get_log())
    assert state.snapshot is not None and state.snapshot_image is None


def test_a_recorded_look_reads_back_the_same():
    board_at("test", now())
    post_at("test", "1", 2, now())
    state = logstate.look(get_log())
    logstate.record(state)
    assert logstate.recorded() == state


def test_the_fanout_lag_is_noted_at_most_once_a_second(monkeypatch):
    monkeypatch.setattr(logstate, "_noted", [0.0])  # this process's fan-outs of earlier tests noted theirs
    logstate.record_fanout_lag(0.25, now=1000.0)
    logstate.record_fanout_lag(9.0, now=1000.5)
    assert logstate.fanout_lag() == (0.25, 1000.0)
    logstate.record_fanout_lag(0.5, now=1001.5)
    assert logstate.fanout_lag() == (0.5, 1001.5)


def test_a_quiet_board_whose_latest_holds_everything_is_not_snapshot_late(settings):
    old = now() - timedelta(seconds=settings.SNAPSHOT_LATE_SECONDS * 3)
    state = logstate.LogState(looked_at=now(), snapshot=logstate.Made("snapshots/x", old, 10))
    assert {f.name: f.late for f in logstate.judge(state)}["snapshot"] is False


def test_an_old_latest_with_segments_waiting_is_snapshot_late(settings):
    old = now() - timedelta(seconds=settings.SNAPSHOT_LATE_SECONDS + 60)
    state = logstate.LogState(
        looked_at=now(), snapshot=logstate.Made("snapshots/x", old, 10), unsnapshotted=3, oldest_unsnapshotted=now()
    )
    assert {f.name: f.late for f in logstate.judge(state)}["snapshot"] is True


def test_the_rollup_is_late_once_the_oldest_waiting_events_hour_ended_past_the_threshold(settings):
    settings.ROLLUP_LATE_SECONDS = 3600
    hour = now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    oldest = hour + timedelta(minutes=59)
    assert not logstate.rollup_late(oldest, hour + timedelta(hours=2))
    assert logstate.rollup_late(oldest, hour + timedelta(hours=2, seconds=1))


def test_without_a_snapshot_it_is_late_once_a_segment_waited_past_the_threshold(settings):
    settings.SNAPSHOT_LATE_SECONDS = 3600
    first = now() - timedelta(hours=3)
    state = logstate.LogState(looked_at=now(), unsnapshotted=2, oldest_unsnapshotted=first)
    assert not logstate.snapshot_late(state, first + timedelta(minutes=59))
    assert logstate.snapshot_late(state, first + timedelta(minutes=61))
