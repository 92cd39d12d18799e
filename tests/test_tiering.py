"""Tiering on a real S3 endpoint: the lifecycle rules, and restores that meet archived objects."""

from __future__ import annotations

import io
import random
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from board import log as log_module
from board.lifecycle import keys as k
from board.lifecycle.plan import restore_instructions
from board.lifecycle.tiering import BucketRules, Policy, changes, rules
from board.log import get_log
from board.log.s3 import S3Log
from board.store import get_store
from tests import services
from tests.lifecycle_helpers import at, lifecycle_keys, store_dump, three_days


def use_s3_log(settings, endpoint: str, bucket: str) -> None:
    settings.UTAKATA_LOG = {
        "BACKEND": "board.log.s3.S3Log",
        "LOCATION": f"{bucket}/board",
        "OPTIONS": services.log_options(endpoint),
    }
    log_module.handler.reset()


@pytest.fixture
def s3_log(settings, s3_endpoint, s3_bucket):
    use_s3_log(settings, s3_endpoint, s3_bucket)
    yield
    log_module.handler.reset()


@pytest.fixture
def s3(s3_endpoint):
    return services.s3_client(s3_endpoint)


def lifecycle(*args: str) -> str:
    out = StringIO()
    call_command("lifecycle", *args, stdout=out, stderr=out)
    return out.getvalue()


SIZE_DROPPED = (
    "not as asked: utakata-daily-to-glacier: the endpoint dropped ObjectSizeGreaterThan (131072 bytes): small "
    "objects under board/daily/ will be moved to GLACIER after 30 days too, the manifests among them"
)


def test_lifecycle_reads_the_rules_back_and_says_what_the_endpoint_dropped(settings, any_s3, any_s3_bucket):
    """moto and Ceph RGW 16.2 both keep the daily rule without its size condition."""
    use_s3_log(settings, any_s3, any_s3_bucket)
    out = StringIO()
    with pytest.raises(CommandError, match="did not keep the lifecycle rules as asked") as refused:
        call_command("lifecycle", stdout=out, stderr=out)
    printed = out.getvalue()
    assert "lifecycle rules in force on s3://" in printed and "(read back)" in printed
    assert "utakata-daily-to-glacier: board/daily/: to GLACIER after 30 days" in printed  # no "over 128 KB"
    assert "utakata-abort-incomplete-uploads: board/: abort unfinished uploads after 2 days" in printed
    assert SIZE_DROPPED in printed
    assert "rules printed are in force" in str(refused.value) and "--accept-changes" in str(refused.value)
    assert "applied" not in printed
    # Accepted: the same rules, the same warning, exit 0.
    accepted = lifecycle("--accept-changes")
    assert SIZE_DROPPED in accepted and "applied with 1 change(s), accepted" in accepted
    stored = services.s3_client(any_s3).get_bucket_lifecycle_configuration(Bucket=any_s3_bucket)["Rules"]
    assert {rule["ID"] for rule in stored} == {"utakata-daily-to-glacier", "utakata-abort-incomplete-uploads"}


@pytest.mark.usefixtures("s3_log")
def test_lifecycle_says_applied_only_when_the_endpoint_kept_the_rules(monkeypatch):
    # What AWS does: the rules read back as they were put.
    monkeypatch.setattr(BucketRules, "current", lambda self: rules(self.prefix, Policy(30, "GLACIER")))
    out = lifecycle()
    assert "utakata-daily-to-glacier: board/daily/ over 128 KB: to GLACIER after 30 days" in out
    assert "lifecycle rules applied, and the endpoint kept them as asked" in out
    assert "not as asked" not in out


def test_every_change_an_endpoint_could_make_is_said():
    asked = rules("board/", Policy(30, "GLACIER", 400))
    kept = [dict(rule) for rule in asked if rule["ID"] != "utakata-daily-expire"]
    kept[0] = {**kept[0], "Filter": {"Prefix": ""}, "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}
    said = changes(asked, kept)
    assert said[0].startswith("utakata-daily-to-glacier: applies to the whole bucket instead of board/daily/")
    assert any("dropped ObjectSizeGreaterThan" in line for line in said)
    assert any("Transitions is" in line and "after 1 days" in line for line in said)
    assert "utakata-daily-expire: the endpoint kept no such rule: nothing under board/daily/ will expire" in said[-1]
    assert changes(asked, asked) == []


@pytest.mark.usefixtures("s3_log")
def test_show_prints_the_rules_back():
    lifecycle("--accept-changes")
    out = lifecycle("--show")
    assert "utakata-daily-to-glacier: board/daily/" in out and "to GLACIER after 30 days" in out
    assert "utakata-abort-incomplete-uploads: board/: abort unfinished uploads after 2 days" in out


@pytest.mark.usefixtures("s3_log")
def test_show_on_a_bucket_without_rules_says_so():
    assert "none" in lifecycle("--show")


@pytest.mark.usefixtures("s3_log")
def test_days_and_storage_class_come_from_the_settings(settings):
    settings.GLACIER_DAYS = 45
    settings.GLACIER_STORAGE_CLASS = "DEEP_ARCHIVE"
    settings.ARCHIVE_RETENTION_DAYS = 400
    out = lifecycle("--accept-changes")
    assert "to DEEP_ARCHIVE after 45 days" in out and "utakata-daily-expire: board/daily/: expire after 400 days" in out


@pytest.mark.usefixtures("s3_log")
def test_rules_of_others_in_the_bucket_are_kept(s3, s3_bucket):
    other = {"ID": "ops-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 7}}
    s3.put_bucket_lifecycle_configuration(Bucket=s3_bucket, LifecycleConfiguration={"Rules": [other]})
    lifecycle("--accept-changes")
    lifecycle("--accept-changes")
    ids = [rule["ID"] for rule in s3.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]]
    assert sorted(ids) == ["ops-logs", "utakata-abort-incomplete-uploads", "utakata-daily-to-glacier"]


@pytest.mark.usefixtures("s3_log")
def test_dry_run_changes_nothing():
    assert "would apply" in lifecycle("--dry-run")
    assert "none" in lifecycle("--show")


def test_only_daily_bundles_ever_tier():
    tiered = [rule for rule in rules("", Policy(30, "GLACIER")) if "Transitions" in rule]
    assert [rule["Filter"]["And"]["Prefix"] for rule in tiered] == [k.DAILY]


@pytest.mark.usefixtures("s3_log")
def test_an_archive_that_expires_before_it_tiers_is_refused(settings):
    settings.ARCHIVE_RETENTION_DAYS = 10
    with pytest.raises(CommandError, match="expires after 10 days, before it is archived"):
        lifecycle()


@pytest.mark.usefixtures("s3_log")
def test_an_early_deletion_is_warned_about(settings):
    settings.ARCHIVE_RETENTION_DAYS = 60
    assert "minimum storage duration is 90 days" in lifecycle("--accept-changes")


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
@pytest.mark.usefixtures("s3_log")
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
@pytest.mark.usefixtures("s3_log")
def test_a_restore_to_the_present_on_s3_never_needs_an_archived_object(s3, s3_bucket):
    three_days()
    for key in lifecycle_keys(k.DAILY):
        archive(s3, s3_bucket, key, "DEEP_ARCHIVE")
    before = store_dump()
    get_store().flush()
    call_command("rehydrate", "--no-progress", stdout=StringIO())
    assert store_dump() == before
    assert all(info.storage_class == "DEEP_ARCHIVE" for info in get_log().list(k.DAILY))


def test_restore_instructions_name_a_claimed_objects_data(s3_endpoint, s3_bucket):
    log = S3Log(f"{s3_bucket}/board", services.log_options(s3_endpoint, multipart_chunksize=str(5 * 1024 * 1024)))
    log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(random.randbytes(6 * 1024 * 1024)))
    log.create("daily/2024/01/01.manifest.json", b"{}")
    how = restore_instructions(log, ["daily/2024/01/01.jsonl.gz", "daily/2024/01/01.manifest.json"])
    data = log.stored_key("daily/2024/01/01.jsonl.gz")
    assert data.startswith("board/daily/2024/01/01.jsonl.gz~data~")
    assert f"--key {data} " in how and f"for key in {data} board/daily/2024/01/01.manifest.json;" in how
    log.close()


@pytest.mark.slow
def test_on_rgw_a_claimed_bundle_tiers_with_its_prefix_and_stays_readable(rgw_endpoint):
    """RGW runs its lifecycle for real (a "day" is 10 s there): the data goes with its claim, manifests too."""
    bucket = services.new_bucket(rgw_endpoint)
    log = S3Log(f"{bucket}/board", services.log_options(rgw_endpoint, multipart_chunksize=str(5 * 1024 * 1024)))
    data = random.randbytes(6 * 1024 * 1024)
    log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(data))
    log.create("daily/2024/01/01.manifest.json", b"{}")
    log.create("snapshots/LATEST.json", b"{}")
    BucketRules(log).apply(Policy(1, "GLACIER"))
    raw = services.s3_client(rgw_endpoint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        classes = {o["Key"]: o.get("StorageClass") for o in raw.list_objects_v2(Bucket=bucket)["Contents"]}
        if all(c == "GLACIER" for key, c in classes.items() if "/daily/" in key):
            break
        time.sleep(2)
    assert [key for key, c in classes.items() if c == "GLACIER"] == [
        "board/daily/2024/01/01.jsonl.gz",
        log.stored_key("daily/2024/01/01.jsonl.gz"),
        "board/daily/2024/01/01.manifest.json",  # 2 bytes: the size condition was dropped
    ]
    assert [(i.key, i.size, i.storage_class) for i in log.list("daily/")] == [
        ("daily/2024/01/01.jsonl.gz", len(data), "GLACIER"),
        ("daily/2024/01/01.manifest.json", 2, "GLACIER"),
    ]
    assert log.read("daily/2024/01/01.jsonl.gz") == data  # RGW serves its GLACIER class without a restore
    log.close()
