"""Purge on a real S3 endpoint: the bucket's bytes, archived bundles rewritten once a restore makes them readable."""

from __future__ import annotations

import gzip
from io import StringIO

import pytest
from django.core.management import call_command

from board.lifecycle import keys as k
from board.lifecycle import purgelist
from board.lifecycle.manifests import read_manifest
from board.lifecycle.purge import sweep
from board.log import get_log
from board.moderation.purge import purge_post
from board.readmodel.projection import apply
from board.store import get_store
from tests import services
from tests.lifecycle_helpers import at, lifecycle_keys
from tests.purge_helpers import SECRET, published_and_deleted
from tests.test_tiering import archive, use_s3_log


def bucket_holders(client, bucket: str, secret: str = SECRET) -> list[str]:
    """Every object in the bucket as S3 stores it (claims' data objects too) whose bytes hold secret.

    An archived object cannot be read: it counts as holding it.
    """
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            try:
                data = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            except client.exceptions.InvalidObjectState:
                found.append(item["Key"])
                continue
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if secret.encode() in data:
                found.append(item["Key"])
    return found


def purged(thread: str) -> None:
    apply(get_store(), purge_post("test", thread, 3, "個人情報", "root"))


def test_a_sweep_leaves_no_purged_text_in_the_bucket(settings, any_s3, any_s3_bucket):
    use_s3_log(settings, any_s3, any_s3_bucket)
    client = services.s3_client(any_s3)
    _, thread = published_and_deleted()
    assert len(bucket_holders(client, any_s3_bucket)) == 2  # the bundle and the older snapshot
    purged(thread)
    sweep(get_log())
    assert bucket_holders(client, any_s3_bucket) == []


@pytest.fixture
def on_moto(settings, s3_endpoint, s3_bucket):
    use_s3_log(settings, s3_endpoint, s3_bucket)
    return services.s3_client(s3_endpoint), s3_bucket


def test_an_archived_bundle_is_pending_until_a_restore_makes_it_readable(on_moto):
    client, bucket = on_moto
    _, thread = published_and_deleted()
    bundle = next(key for key in lifecycle_keys(k.DAILY) if key.endswith(k.DATA))
    archive(client, bucket, bundle)
    purged(thread)
    report = sweep(get_log())
    assert report.pending == [bundle] and f"board/{bundle}" in bucket_holders(client, bucket)
    assert not purgelist.entries(get_log())[0].done
    client.restore_object(Bucket=bucket, Key=f"board/{bundle}", RestoreRequest={"Days": 1})
    # Restored, not rewritten yet: a point-in-time restore reads the bundle through the purge list.
    get_store().flush()
    call_command("rehydrate", "--no-progress", "--until", at(45).isoformat(), stdout=StringIO())
    assert SECRET not in str(get_store().items())
    sweep(get_log())
    assert bucket_holders(client, bucket) == []
    moved = read_manifest(get_log(), k.manifest_key(bundle))
    assert moved.key != bundle and {i.key: i.storage_class for i in get_log().list(k.DAILY)}[moved.key] == "STANDARD"
    assert purgelist.entries(get_log())[0].pending == []


def test_purge_dry_run_names_the_archived_bundle_and_how_to_restore_it(on_moto):
    client, bucket = on_moto
    _, thread = published_and_deleted()
    bundle = next(key for key in lifecycle_keys(k.DAILY) if key.endswith(k.DATA))
    archive(client, bucket, bundle)
    out = StringIO()
    call_command("purge", "post", "test", thread, "3", "--dry-run", stdout=out)
    printed = out.getvalue()
    assert f"pending (archived: restore it, the next sweep rewrites it) {bundle}" in printed
    assert "aws s3api restore-object" in printed and "would rewrite snapshots/00000001-" in printed
    assert list(get_log().list(purgelist.PREFIX)) == []
