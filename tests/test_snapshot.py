"""Snapshots: the previous one plus the new segments, compacted, verified, then pointed to by LATEST."""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from datetime import timedelta

import pytest
from django.core.management import call_command

from board.events import EventType, new_event
from board.lifecycle import keys as k
from board.lifecycle import rehydrate
from board.lifecycle.bundle import bundle_days
from board.lifecycle.errors import CorruptObject
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.manifests import read_manifest
from board.lifecycle.rollup import hourly_manifest, rollup
from board.lifecycle.segments import SegmentWriter, upload
from board.lifecycle.snapshot import advance, latest, make_snapshot
from board.log import get_log
from board.log.local import LocalLog
from board.log.s3 import S3Log
from board.store import get_store
from tests import services
from tests.lifecycle_helpers import (
    at,
    commit_at,
    history,
    lifecycle_keys,
    post_at,
    read_segment,
    thread_at,
)

DAY = 60 * 24


def rolled(hours: int = 3, **kwargs):
    made = history(hours=hours, **kwargs)
    rollup(get_log(), get_store(), now=at(DAY * 3))
    return made


def test_snapshot_holds_every_rolled_up_event_once_in_id_order():
    made = rolled(hours=3)
    report = make_snapshot(get_log(), now=at(DAY * 3))
    assert [e.id for e in read_segment(report.key)] == sorted(e.id for e in made)
    assert report.seq == 1 and report.count == len(made)


def test_latest_names_the_new_snapshot():
    rolled()
    report = make_snapshot(get_log(), now=at(DAY * 3))
    assert json.loads(get_log().read(k.LATEST))["seq"] == 1
    assert latest(get_log()).key == report.key


def test_the_manifest_lists_the_hourly_segments_the_snapshot_holds():
    rolled(hours=2)
    make_snapshot(get_log(), now=at(DAY * 3))
    assert [key for key, _ in latest(get_log()).sources] == [
        "hourly/2026/11/30/09.jsonl.gz",
        "hourly/2026/11/30/10.jsonl.gz",
    ]


def test_the_next_snapshot_is_the_previous_plus_the_new_segments():
    made = rolled(hours=2)
    make_snapshot(get_log(), now=at(DAY * 3))
    more = [post_at("test", made[1].thread, 12 + i, at(DAY + i)) for i in range(3)]
    rollup(get_log(), get_store(), now=at(DAY * 3))
    report = make_snapshot(get_log(), now=at(DAY * 3 + 1))
    assert report.seq == 2 and len(report.inputs) == 2
    assert [e.id for e in read_segment(report.key)] == sorted(e.id for e in made + more)
    assert read_manifest(get_log(), k.snapshot_manifest_key(2)).prev == k.snapshot_manifest_key(1)


def test_a_snapshot_with_nothing_new_is_not_written():
    rolled()
    make_snapshot(get_log(), now=at(DAY * 3))
    report = make_snapshot(get_log(), now=at(DAY * 3))
    assert report.outcome == "up to date"
    assert [key for key in lifecycle_keys(k.SNAPSHOTS) if key.endswith(k.DATA)] == [latest(get_log()).key]


def test_an_empty_log_makes_no_snapshot():
    report = make_snapshot(get_log())
    assert report.outcome.startswith("up to date") and lifecycle_keys(k.SNAPSHOTS) == []


def test_latest_does_not_move_when_the_read_back_fails(monkeypatch):
    rolled()
    make_snapshot(get_log(), now=at(DAY * 3))
    post_at("test", "1796029260", 20, at(DAY))
    rollup(get_log(), get_store(), now=at(DAY * 3))

    def corrupt(log, manifest):
        raise CorruptObject(manifest.key, "sha256 differs")

    monkeypatch.setattr("board.lifecycle.snapshot.verify", corrupt)
    with pytest.raises(CorruptObject):
        make_snapshot(get_log(), now=at(DAY * 3))
    assert json.loads(get_log().read(k.LATEST))["seq"] == 1
    assert not get_log().exists(k.snapshot_manifest_key(2))


def test_a_crash_after_the_claim_is_finished_by_the_next_run(monkeypatch):
    rolled()
    monkeypatch.setattr("board.lifecycle.snapshot.point", lambda log, manifest: False)
    make_snapshot(get_log(), now=at(DAY * 3))
    assert not get_log().exists(k.LATEST)
    monkeypatch.undo()
    assert advance(get_log()).seq == 1
    assert json.loads(get_log().read(k.LATEST))["seq"] == 1


def test_a_builder_that_loses_the_claim_removes_its_own_data_and_image(monkeypatch):
    rolled()
    from board.lifecycle import snapshot as module

    real_advance = module.advance

    def racer_claims_first(log):
        head = real_advance(log)
        # Another builder saw one event more and claimed snapshot 1 while we worked.
        log.create(
            k.snapshot_manifest_key(1),
            b'{"kind":"snapshot","key":"snapshots/00000001-other.jsonl.gz","stats":{"count":1},"seq":1}',
        )
        return head

    monkeypatch.setattr(module, "advance", racer_claims_first)
    report = make_snapshot(get_log(), now=at(DAY * 3))
    assert report.outcome == "lost the race"
    assert [key for key in lifecycle_keys(k.SNAPSHOTS) if key.endswith((k.DATA, k.IMAGE))] == []


def test_deleted_posts_lose_their_text_in_the_snapshot():
    made = history(hours=1)
    thread = made[1].thread
    secret = post_at("test", thread, 7, at(50), body="消されるべき秘密", mail="himitsu@example.com")
    commit_at(EventType.POST_DELETED, "test", at(55), thread, 7, reason="spam")
    rollup(get_log(), get_store(), now=at(DAY))
    report = make_snapshot(get_log(), now=at(DAY))
    raw = get_log().read(report.key)
    import gzip

    text = gzip.decompress(raw).decode()
    assert "消されるべき秘密" not in text and "himitsu" not in text
    kept = [e for e in read_segment(report.key) if e.id == secret.id]
    assert kept[0].number == 7 and kept[0].payload["redacted"] and kept[0].payload["body"] == ""
    assert report.redacted == 1


def test_a_post_in_an_older_snapshot_is_redacted_when_a_later_deletion_comes():
    made = rolled(hours=1)
    make_snapshot(get_log(), now=at(DAY * 3))
    commit_at(EventType.POST_DELETED, "test", at(DAY), made[1].thread, 3)
    rollup(get_log(), get_store(), now=at(DAY * 3))
    report = make_snapshot(get_log(), now=at(DAY * 3 + 1))
    [post] = [e for e in read_segment(report.key) if e.type == EventType.POST_CREATED and e.number == 3]
    assert post.payload["body"] == "" and post.payload["redacted"]


def test_redaction_keeps_sage_so_the_thread_order_is_unchanged():
    history(hours=1)
    thread = thread_at("test", at(20), subject="二つ目")
    post_at("test", thread.thread, 2, at(30), body="sage進行", mail="sage")
    commit_at(EventType.POST_DELETED, "test", at(40), thread.thread, 2)
    rollup(get_log(), get_store(), now=at(DAY))
    report = make_snapshot(get_log(), now=at(DAY))
    [post] = [e for e in read_segment(report.key) if e.type == EventType.POST_CREATED and e.thread == thread.thread]
    assert post.payload["mail"] == "sage"


def test_a_deleted_first_post_keeps_the_threads_title():
    history(hours=1)
    thread = thread_at("test", at(20), subject="残るスレタイ", body="消える本文")
    commit_at(EventType.POST_DELETED, "test", at(40), thread.thread, 1)
    rollup(get_log(), get_store(), now=at(DAY))
    report = make_snapshot(get_log(), now=at(DAY))
    [first] = [e for e in read_segment(report.key) if e.id == thread.id]
    assert first.payload["subject"] == "残るスレタイ" and first.payload["body"] == ""


def test_snapshots_past_the_retention_are_pruned_but_latest_never_is():
    made = rolled(hours=1)
    make_snapshot(get_log(), now=at(DAY * 3), retention=timedelta(days=1))
    for day in range(1, 4):
        post_at("test", made[1].thread, 10 + day, at(DAY * (2 + day)))
        rollup(get_log(), get_store(), now=at(DAY * (4 + day)))
        make_snapshot(get_log(), now=at(DAY * (3 + day)), retention=timedelta(days=1))
    manifests = [key for key in lifecycle_keys(k.SNAPSHOTS) if key.endswith(k.MANIFEST)]
    assert manifests == [k.snapshot_manifest_key(3), k.snapshot_manifest_key(4)]
    assert latest(get_log()).seq == 4


def test_snapshot_command_reports_what_it_wrote(capsys):
    rolled()
    call_command("snapshot")
    out = capsys.readouterr().out
    assert "snapshot 1: snapshots/00000001-" in out and "snapshot done" in out


def test_the_scheduled_job_bundles_the_days_latest_holds():
    rolled(hours=3)
    snapshot, bundles = snapshot_and_bundle(get_log(), now=at(DAY * 3))
    assert bundles.written == ["daily/2026/11/30.jsonl.gz"]
    assert lifecycle_keys(k.HOURLY) == []
    manifest = read_manifest(get_log(), "daily/2026/11/30.manifest.json")
    assert manifest.covered_by == 1 and len(manifest.sources) == 3 and manifest.count == snapshot.count


def test_a_day_not_over_when_the_snapshot_was_made_is_not_bundled():
    history(hours=3)
    rollup(get_log(), get_store(), now=at(60 * 4))
    snapshot_and_bundle(get_log(), now=at(60 * 4))
    assert lifecycle_keys(k.DAILY) == [] and len(lifecycle_keys(k.HOURLY)) == 6


def test_a_late_part_of_a_bundled_day_becomes_the_next_daily_part():
    made = rolled(hours=1)
    snapshot_and_bundle(get_log(), now=at(DAY * 3))
    post_at("test", made[1].thread, 7, at(59))
    rollup(get_log(), get_store(), now=at(DAY * 3))
    assert lifecycle_keys(k.HOURLY)[0] == "hourly/2026/11/30/09.1.jsonl.gz"
    _, bundles = snapshot_and_bundle(get_log(), now=at(DAY * 3 + 1))
    assert bundles.written == ["daily/2026/11/30.1.jsonl.gz"]


def test_an_interrupted_bundle_is_finished_by_the_next_run(monkeypatch):
    rolled(hours=2)
    make_snapshot(get_log(), now=at(DAY * 3))
    log = get_log()
    real_delete = type(log).delete
    monkeypatch.setattr(type(log), "delete", lambda self, keys: real_delete(self, list(keys)[:1]))
    bundle_days(log, latest(log))
    monkeypatch.undo()
    assert len(lifecycle_keys(k.HOURLY)) == 3
    report = bundle_days(log, latest(log))
    assert report.written == [] and lifecycle_keys(k.HOURLY) == []


# --- streaming: memory and multipart ---------------------------------------------------


def write_hourly(log, count: int, start: int = 0, body_bytes: int = 200) -> None:
    """count events of a board with many threads, as hourly segments of 1000 events, straight to log."""
    hour_events = []
    for i in range(start, start + count):
        when = at(i * 0.06)  # 1000 events an hour
        thread = str(1_800_000_000 + i // 500)
        body = base64.b64encode(os.urandom(body_bytes * 3 // 4)).decode()
        kind = EventType.THREAD_CREATED if i % 500 == 0 else EventType.POST_CREATED
        payload = {"name": "名無しさん", "mail": "", "body": body, "id": "", "subject": "スレ"}
        hour_events.append(new_event(kind, "test", thread, i % 500 + 1, payload, at=when))
        if len(hour_events) == 1000 or i == start + count - 1:
            hour = k.hour_of(hour_events[0].time)
            part = sum(1 for _ in log.list(k.hourly_prefix(hour))) // 2
            key = k.hourly_key(hour, part)
            with SegmentWriter() as writer:
                writer.write_all(sorted(hour_events, key=lambda e: e.id))
                upload(log, writer, hourly_manifest(key, hour, part, writer.finish()), k.manifest_key(key))
            hour_events = []


def peak_while_snapshotting(tmp_path, history_events: int) -> int:
    """Peak traced memory of the snapshot folding two more hours into one of history_events."""
    log = LocalLog(str(tmp_path / f"log{history_events}"))
    write_hourly(log, history_events)
    make_snapshot(log, now=at(DAY * 30))
    write_hourly(log, 2_000, start=history_events)
    tracemalloc.start()
    try:
        report = make_snapshot(log, now=at(DAY * 31))
        assert report.count == history_events + 2_000
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_snapshot_memory_stays_flat_as_the_log_grows(tmp_path, monkeypatch):
    # Making the image holds up to RESTORE_OBJECTS objects and CHUNK events at a time: fewer here, so
    # that both runs reach those bounds.
    monkeypatch.setattr(rehydrate, "RESTORE_OBJECTS", 60)
    monkeypatch.setattr(rehydrate, "CHUNK", 256)
    small = peak_while_snapshotting(tmp_path, 2_000)
    large = peak_while_snapshotting(tmp_path, 16_000)
    assert large < small * 1.25, f"peak {small} bytes over 2k events of history, {large} over 16k"


@pytest.mark.slow
def test_a_large_snapshot_goes_up_by_multipart_upload_to_s3(s3_endpoint, s3_bucket):
    log = S3Log(f"{s3_bucket}/board", services.log_options(s3_endpoint, multipart_chunksize=str(5 * 1024 * 1024)))
    write_hourly(log, 5_000, body_bytes=1600)  # about 8 MB of incompressible text
    report = make_snapshot(log, now=at(DAY * 30))
    # The data goes up in parts under a name of its own; a conditional PUT then claims the key.
    stored = log.stored_key(report.key)
    assert stored.startswith(f"board/{report.key}~data~")
    head = services.s3_client(s3_endpoint).head_object(Bucket=s3_bucket, Key=stored)
    assert "-" in head["ETag"], "a multipart upload's ETag ends in -<parts>"
    assert report.count == 5_000 and head["ContentLength"] > 5 * 1024 * 1024
    assert sorted(info.key for info in log.list("snapshots/")) == sorted(
        [report.key, latest(log).image["key"], "snapshots/00000001.manifest.json", "snapshots/LATEST"]
    )
