"""README's IAM policies: valid JSON, and they grant each role the prefixes its code writes and reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

from board.lifecycle import keys, purgelist
from board.log.layout import INCOMING
from board.log.s3 import PROBE_DIR

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BUCKET, PREFIX = "arn:aws:s3:::utakata", "log/"


def policies() -> dict[str, dict]:
    """Each ```json block of "Least S3 permissions per role", by the bold role name before it."""
    section = README.split("### Least S3 permissions per role", 1)[1].split("\n### ", 1)[0]
    found = re.findall(r"\*\*([a-z ]+)\*\*(?:(?!```).)*?```json\n(.*?)```", section, re.S)
    return {name: json.loads(body) for name, body in found}


def allowed(policy: dict, action: str) -> list[str]:
    """The resources an Allow statement grants action on."""
    out: list[str] = []
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and action in actions:
            resources = statement["Resource"]
            out += resources if isinstance(resources, list) else [resources]
    return out


def covers(resources: list[str], key: str) -> bool:
    return any(re.fullmatch(re.escape(r).replace(r"\*", ".*"), f"{BUCKET}/{PREFIX}{key}") for r in resources)


def test_every_role_has_a_policy_that_is_valid_json() -> None:
    assert set(policies()) == {"web", "worker", "rehydrate", "deploy job"}


def test_the_web_may_commit_events_and_purge_requests_and_probe() -> None:
    puts = allowed(policies()["web"], "s3:PutObject")
    assert covers(puts, INCOMING + "posts/news/1/0001.json")
    assert covers(puts, purgelist.PREFIX + "posts/news/1/0001.json")
    assert covers(puts, PROBE_DIR + "x")


def test_the_web_may_not_write_or_delete_the_rolled_up_log() -> None:
    web = policies()["web"]
    for key in (keys.LATEST, keys.HOURLY + "2026/12/01/08.jsonl.gz", keys.DAILY + "2026/12/01.jsonl.gz"):
        assert not covers(allowed(web, "s3:PutObject"), key)
        assert not covers(allowed(web, "s3:DeleteObject"), key)


def listable(policy: dict) -> list[str]:
    """The prefixes an Allow statement's condition lets ListBucket list, as resources under the bucket."""
    out: list[str] = []
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow" and statement["Action"] == "s3:ListBucket":
            out += [f"{BUCKET}/{p}" for p in statement["Condition"]["StringLike"]["s3:prefix"]]
    return out


def test_the_web_may_head_latest_for_readyz() -> None:
    assert covers(allowed(policies()["web"], "s3:GetObject"), keys.LATEST)


def test_the_web_may_list_the_newest_segments_the_log_health_page_checks() -> None:
    prefixes = listable(policies()["web"])
    assert covers(prefixes, keys.HOURLY + "2026/12/01/08.jsonl.gz")
    assert covers(prefixes, keys.SNAPSHOTS + "00000001-0123456789abcdef.jsonl.gz")
    assert covers(prefixes, keys.DAILY + "2026/12/01.jsonl.gz")


def test_the_web_may_read_what_rehydrate_if_empty_restores_at_its_start() -> None:
    gets = allowed(policies()["web"], "s3:GetObject")
    for key in ("00000001.manifest.json", "00000001-0123456789abcdef.jsonl.gz"):
        assert covers(gets, keys.SNAPSHOTS + key)
    assert covers(gets, keys.HOURLY + "2026/12/01/08.jsonl.gz")
    assert covers(gets, keys.DAILY + "2026/12/01.jsonl.gz")


def test_rehydrate_reads_and_writes_nothing() -> None:
    policy = policies()["rehydrate"]
    assert covers(allowed(policy, "s3:GetObject"), keys.HOURLY + "2026/12/01/08.jsonl.gz")
    assert not allowed(policy, "s3:PutObject") and not allowed(policy, "s3:DeleteObject")


def test_the_worker_may_write_and_delete_every_part_of_the_log() -> None:
    worker = policies()["worker"]
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        assert covers(allowed(worker, action), keys.HOURLY + "2026/12/01/08.jsonl.gz")
