"""Tiering on a real S3 endpoint: the lifecycle rules, and restores that meet archived objects."""

from __future__ import annotations

from io import StringIO

import boto3
import pytest
from django.core.management import CommandError, call_command

from board import log as log_module
from board.lifecycle import keys as k
from board.lifecycle.tiering import Policy, rules
from board.log import get_log
from board.store import get_store
from tests.lifecycle_helpers import at, lifecycle_keys, store_dump, three_days

pytestmark = pytest.mark.usefixtures("s3_log")


@pytest.fixture
def s3_log(settings, s3_endpoint, s3_bucket):
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": f"{s3_bucket}/board",
        "OPTIONS": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    log_module.handler.reset()
    yield
    log_module.handler.reset()


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def lifecycle(*args: str) -> str:
    out = StringIO()
    call_command("lifecycle", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_lifecycle_sets_the_rules_and_prints_them(s3, s3_bucket):
    out = lifecycle()
    assert "utakata-daily-to-glacier: board/daily/ over 128 KB: to GLACIER after 30 days" in out
    assert "utakata-abort-incomplete-uploads: board/: abort unfinished uploads after 2 days" in out
    stored = s3.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]
    assert {rule["ID"] for rule in stored} == {"utakata-daily-to-glacier", "utakata-abort-incomplete-uploads"}


def test_show_prints_the_rules_back():
    lifecycle()
    out = lifecycle("--show")
    # (moto drops ObjectSizeGreaterThan when it reads a configuration back; AWS keeps it)
    assert "utakata-daily-to-glacier: board/daily/" in out and "to GLACIER after 30 days" in out
    assert "utakata-abort-incomplete-uploads: board/: abort unfinished uploads after 2 days" in out


def test_show_on_a_bucket_without_rules_says_so():
    assert "none" in lifecycle("--show")


def test_days_and_storage_class_come_from_the_settings(settings):
    settings.GLACIER_DAYS = 45
    settings.GLACIER_STORAGE_CLASS = "DEEP_ARCHIVE"
    settings.ARCHIVE_RETENTION_DAYS = 400
    out = lifecycle()
    assert "to DEEP_ARCHIVE after 45 days" in out and "utakata-daily-expire: board/daily/: expire after 400 days" in out


def test_rules_of_others_in_the_bucket_are_kept(s3, s3_bucket):
    other = {"ID": "ops-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 7}}
    s3.put_bucket_lifecycle_configuration(Bucket=s3_bucket, LifecycleConfiguration={"Rules": [other]})
    lifecycle()
    lifecycle()
    ids = [rule["ID"] for rule in s3.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]]
    assert sorted(ids) == ["ops-logs", "utakata-abort-incomplete-uploads", "utakata-daily-to-glacier"]


def test_dry_run_changes_nothing():
    assert "would apply" in lifecycle("--dry-run")
    assert "none" in lifecycle("--show")


def test_only_daily_bundles_ever_tier():
    tiered = [rule for rule in rules("", Policy(30, "GLACIER")) if "Transitions" in rule]
    assert [rule["Filter"]["And"]["Prefix"] for rule in tiered] == [k.DAILY]


def test_an_archive_that_expires_before_it_tiers_is_refused(settings):
    settings.ARCHIVE_RETENTION_DAYS = 10
    with pytest.raises(CommandError, match="expires after 10 days, before it is archived"):
        lifecycle()


def test_an_early_deletion_is_warned_about(settings):
    settings.ARCHIVE_RETENTION_DAYS = 60
    assert "minimum storage duration is 90 days" in lifecycle()


def test_a_local_log_has_no_lifecycle_rules(settings, tmp_path):
    settings.UTAKATA_LOG = {"BACKEND": "board.log.local.LocalLog", "LOCATION": str(tmp_path), "OPTIONS": {}}
    log_module.handler.reset()
    with pytest.raises(CommandError, match="not in S3"):
        lifecycle()


# --- restores against archived objects ------------------------------------------------


def archive(s3, bucket: str, key: str, storage_class: str = "GLACIER") -> None:
    """What a lifecycle transition does to an object."""
    full = f"board/{key}"
    s3.copy_object(Bucket=bucket, Key=full, CopySource={"Bucket": bucket, "Key": full}, StorageClass=storage_class)


@pytest.mark.slow
def test_a_point_in_time_restore_that_needs_an_archived_bundle_says_how_to_restore_it(s3, s3_bucket, s3_endpoint):
    three_days()
    bundle = next(key for key in lifecycle_keys(k.DAILY) if key.endswith(k.DATA))
    archive(s3, s3_bucket, bundle)
    get_store().flush()
    with pytest.raises(CommandError) as info:
        call_command("rehydrate", "--no-progress", "--until", at(60).isoformat(), stdout=StringIO())
    message = str(info.value)
    assert bundle in message and "archived and must be restored first" in message
    assert f"aws s3api restore-object --endpoint-url {s3_endpoint} --bucket {s3_bucket} --key board/{bundle}" in message
    assert get_store().is_empty()


@pytest.mark.slow
def test_a_restore_to_the_present_on_s3_never_needs_an_archived_object(s3, s3_bucket):
    three_days()
    for key in lifecycle_keys(k.DAILY):
        archive(s3, s3_bucket, key, "DEEP_ARCHIVE")
    before = store_dump()
    get_store().flush()
    call_command("rehydrate", "--no-progress", stdout=StringIO())
    assert store_dump() == before
    assert all(info.storage_class == "DEEP_ARCHIVE" for info in get_log().list(k.DAILY))
