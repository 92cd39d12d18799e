"""Snapshot images: a restore copies the objects a snapshot gives instead of replaying its events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from board.lifecycle import images, purgelist
from board.lifecycle import keys as k
from board.lifecycle.images import Image, named_keys
from board.lifecycle.manifests import read_manifest
from board.lifecycle.plan import plan_restore
from board.lifecycle.purge import sweep
from board.lifecycle.rehydrate import restore
from board.lifecycle.rollup import rollup
from board.lifecycle.snapshot import latest, make_snapshot
from board.log import get_log
from board.moderation.purge import purge_post
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import apply, merger
from board.store import get_store
from tests.lifecycle_helpers import Timeline, at, lifecycle_keys, maintain, post_at, reference_store, store_dump
from tests.lifecycle_helpers import three_days as scenario
from tests.purge_helpers import SECRET, holders, published_and_deleted


def rehydrate(*args: str) -> str:
    out = StringIO()
    call_command("rehydrate", "--no-progress", *args, stdout=out)
    return out.getvalue()


def rewrite_image(**changes) -> Image:
    """Give LATEST's manifest an image that says something else, as other code or a damaged log would."""
    log = get_log()
    manifest = latest(log)
    image = dataclasses.replace(Image.of(manifest), **changes)
    log.replace(k.snapshot_manifest_key(manifest.seq), dataclasses.replace(manifest, image=image.as_dict()).to_bytes())
    return image


def test_a_snapshot_names_its_image_beside_its_data():
    scenario()
    snapshot = latest(get_log())
    image = Image.of(snapshot)
    assert image.key == k.snapshot_image_key(snapshot.seq, image.sha256) and get_log().exists(image.key)
    assert image.objects > 0 and image.size == len(get_log().read(image.key))


def test_a_restore_copies_the_image_and_gives_the_store_replaying_gives():
    timeline = scenario()
    get_store().flush()
    out = rehydrate()
    assert f"snapshot {latest(get_log()).seq}'s image copied" in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_the_image_holds_the_objects_replaying_the_snapshot_alone_gives():
    scenario()
    log, store = get_log(), get_store()
    snapshot = latest(log)
    store.flush()
    images.load(log, store, Image.of(snapshot), lambda n: None, snapshot.count)
    copied = store_dump()
    store.flush()
    from board.lifecycle.rehydrate import replay

    replay(log, store, [snapshot], purgelist.load(log))
    assert copied == store_dump()


def test_a_dry_run_checks_the_image_and_copies_nothing():
    scenario()
    get_store().flush()
    out = rehydrate("--dry-run")
    assert f"snapshot {latest(get_log()).seq}'s image checked" in out and get_store().is_empty()


def test_a_dry_run_reports_a_corrupt_image():
    scenario()
    image = Image.of(latest(get_log()))
    get_log().replace(image.key, get_log().read(image.key)[:-10])
    get_store().flush()
    assert f"image not used (corrupt object {image.key}" in rehydrate("--dry-run")


def test_replace_copies_the_image_into_the_new_generation():
    timeline = scenario()
    out = rehydrate("--replace")
    assert "image copied" in out and "switched to generation" in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_merge_into_a_store_with_data_replays_the_events():
    timeline = scenario()
    out = rehydrate("--merge")
    assert "image" not in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_no_image_replays_the_events():
    timeline = scenario()
    get_store().flush()
    out = rehydrate("--no-image")
    assert "image" not in out
    assert store_dump() == store_dump(reference_store(timeline.events))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"renderer": "an-older-renderer"}, "rendered by renderer an-older-renderer"),
        ({"model": "0"}, "made for model version 0"),
    ],
)
def test_an_image_made_by_other_code_is_not_used(changes, why):
    timeline = scenario()
    rewrite_image(**changes)
    get_store().flush()
    out = rehydrate()
    assert why in out and "its events were replayed" in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_a_corrupt_image_is_not_used_and_nothing_of_it_is_written():
    timeline = scenario()
    image = Image.of(latest(get_log()))
    data = bytearray(get_log().read(image.key))
    data[len(data) // 2] ^= 0xFF
    get_log().replace(image.key, bytes(data))
    get_store().flush()
    out = rehydrate()
    assert f"corrupt object {image.key}: sha256" in out and "its events were replayed" in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_a_missing_image_is_not_used():
    timeline = scenario()
    image = Image.of(latest(get_log()))
    get_log().delete([image.key])
    get_store().flush()
    out = rehydrate()
    assert f"missing object {image.key}" in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_an_image_made_before_a_purge_was_recorded_is_not_used():
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    maintain(200)  # snapshot 1 and its image hold the reply's text
    purgelist.record_post(get_log(), "test", thread, 2, 0, k.ms(at(21)))  # recorded; no sweep yet
    get_store().flush()
    out = rehydrate()
    assert "a purge was recorded after it was made" in out
    assert holders(objects={f"{b}/{key}": value for (b, key), value in store_dump().items()}) == []


def latest_holding_secret() -> tuple[str, object]:
    """A reply with SECRET, rolled up into snapshot 1 (LATEST), whose image holds it too; then purged."""
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    t.reply(20, thread, body=SECRET)
    maintain(200)
    snapshot = latest(get_log())
    assert set(holders()) >= named_keys(snapshot)
    apply(get_store(), purge_post("test", thread, 2, "個人情報", "root"))
    return thread, snapshot


def test_a_sweep_that_rewrites_a_snapshot_removes_its_image():
    _, before = latest_holding_secret()
    report = sweep(get_log())
    after = read_manifest(get_log(), k.snapshot_manifest_key(before.seq))
    assert after.key != before.key and after.image is None
    assert not get_log().exists(before.image["key"]) and before.image["key"] in report.removed
    assert holders() == []


def test_a_purge_dry_run_says_the_image_would_be_removed():
    _, before = latest_holding_secret()
    lines = sweep(get_log(), dry_run=True).lines()
    assert f"would rewrite {before.key}" in lines and f"would remove {before.image['key']}" in lines
    assert get_log().exists(before.image["key"])


def test_a_restore_after_the_purge_replays_the_cleaned_events():
    latest_holding_secret()
    sweep(get_log())
    get_store().flush()
    out = rehydrate()
    assert "image" not in out
    assert holders(objects={f"{b}/{key}": value for (b, key), value in store_dump().items()}) == []


def test_a_sweep_keeps_the_image_of_a_snapshot_it_leaves_alone():
    _, thread = published_and_deleted()
    newest = latest(get_log())  # built after the deletion: the post is compacted there
    purgelist.record_post(get_log(), "test", thread, 3, 0, 10**13)
    sweep(get_log())
    assert read_manifest(get_log(), k.snapshot_manifest_key(newest.seq)) == newest
    assert get_log().exists(newest.image["key"])


def two_snapshots(days: int):
    """Snapshot 1, then a reply and snapshot 2 days later; returns snapshot 1's manifest."""
    t = Timeline()
    t.board(0)
    thread = t.thread(10)
    maintain(200)
    first = latest(get_log())
    t.reply(60 * 24 * days, thread)
    maintain(60 * 24 * days + 200)
    assert latest(get_log()).seq == 2
    return first


def test_a_newer_snapshot_removes_the_older_ones_image_and_keeps_its_events():
    first = two_snapshots(days=2)  # snapshot 1 is within the retention
    assert get_log().exists(latest(get_log()).image["key"])
    assert get_log().exists(first.key) and not get_log().exists(first.image["key"])


def test_pruning_a_snapshot_past_the_retention_removes_it_whole():
    first = two_snapshots(days=40)
    assert not get_log().exists(first.key) and not get_log().exists(k.snapshot_manifest_key(first.seq))


def test_a_restore_to_a_point_in_time_replays_its_snapshot():
    timeline = scenario()
    until = max(event.time for event in timeline.events)
    get_store().flush()
    out = rehydrate("--until", datetime.fromtimestamp(until / 1000, UTC).isoformat())
    assert "image" not in out
    assert store_dump() == store_dump(reference_store(timeline.events))


def test_making_the_image_counts_its_work_as_it_goes_which_renews_the_jobs_lease():
    from board.lifecycle.progress import Progress

    post_at("test", "1800000000", 1, at(10))
    rollup(get_log(), get_store(), now=at(100))
    beats = []
    progress = Progress("snapshot", say=lambda line: None, every=0, beat=lambda p: beats.append(dict(p.counts)))
    make_snapshot(get_log(), now=at(200), progress=progress)
    assert progress.counts["event(s) replayed for the image"] == latest(get_log()).count
    assert progress.counts["object(s) written to the image"] == Image.of(latest(get_log())).objects
    assert any(beat.get("event(s) replayed for the image") for beat in beats)


def test_a_snapshot_whose_image_cannot_be_made_is_claimed_without_one(monkeypatch):
    post_at("test", "1800000000", 1, at(10))

    def no_room(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "build", no_room)
    maintain(200)
    snapshot = latest(get_log())
    assert snapshot is not None and snapshot.image is None
    assert [key for key in lifecycle_keys(k.SNAPSHOTS) if key.endswith(k.IMAGE)] == []
    get_store().flush()
    assert "image" not in rehydrate()


def test_a_write_that_reached_the_store_during_the_copy_is_joined_not_lost():
    scenario()
    log, store = get_log(), get_store()
    snapshot = latest(log)
    page = next(key for bucket, key in _objects_of(log, snapshot) if bucket == o.POSTS and key.endswith("/0"))
    board, thread, _ = o.split_posts_key(page)
    store.flush()
    # Fan-out applies a reply to a page of the snapshot before the copy reaches that page.
    apply(store, post_at(board, thread, 24, at(60 * 24 * 5), body="写しの最中に来たレス"))
    images.load(log, store, Image.of(snapshot), lambda n: None, snapshot.count)
    posts = e.loads(store.get(o.POSTS, page, merger(o.POSTS, page)))["posts"]
    assert posts["24"]["body"] == "写しの最中に来たレス" and posts["1"]
    assert set(posts) >= set(e.loads(_value_of(log, snapshot, o.POSTS, page))["posts"])


def _objects_of(log, manifest) -> list[tuple[str, str]]:
    return [(bucket, key) for bucket, key, _ in images.objects(log, Image.of(manifest))]


def _value_of(log, manifest, bucket: str, key: str) -> bytes:
    return next(value for b, name, value in images.objects(log, Image.of(manifest)) if (b, name) == (bucket, key))


def test_a_restore_with_workers_copies_the_image_once(tmp_path):
    scenario()
    from board.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "restored.sqlite3"))
    report = restore(get_log(), store, plan_restore(get_log()), workers=2)
    assert "image copied" in report.image
    assert report.sources[0] == (Image.of(latest(get_log())).key, latest(get_log()).count)
    store.close()
