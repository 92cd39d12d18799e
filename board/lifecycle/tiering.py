"""S3 lifecycle rules for the log's bucket: archive the daily bundles, expire what is past retention.

Only ``daily/`` tiers. Hourly segments are small (S3 does not transition
objects under 128 KB, and each archived object costs about 40 KB of metadata
overhead) and are bundled into daily objects, then deleted, by the snapshot
job (bundle.py); per-event objects never live long enough. Snapshots stay in
STANDARD, and the app prunes them itself: a lifecycle rule cannot know which
one LATEST names. So a restore to the present never meets an archived object.

Rules this module owns have IDs starting with ``utakata-``; other rules in the
bucket's configuration are kept as they are.

An endpoint may store a rule other than it was sent: Ceph RGW 16.2 (and
moto) keep ``And {Prefix, ObjectSizeGreaterThan}`` as the prefix alone, so
small objects under ``daily/`` (the manifests) tier too. So the rules are
read back after they are set, and ``changes()`` says in words what the
endpoint did not keep and what that means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from board.lifecycle import keys as k
from board.lifecycle.errors import LifecycleError

RULE_PREFIX = "utakata-"
MIN_TRANSITION_SIZE = 128 * 1024  # S3's own default since 2024; explicit so that the rule says it
# Days an object must stay in a class before deletion costs no early-deletion fee.
MINIMUM_DAYS = {"GLACIER": 90, "DEEP_ARCHIVE": 180, "GLACIER_IR": 90, "STANDARD_IA": 30, "ONEZONE_IA": 30}
# S3 refuses transitions to the infrequent-access classes sooner than this.
MIN_TRANSITION_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}


@dataclass(frozen=True)
class Policy:
    """What the operator asked for (settings.GLACIER_DAYS, GLACIER_STORAGE_CLASS, ARCHIVE_RETENTION_DAYS)."""

    glacier_days: int
    storage_class: str
    archive_days: int = 0

    def check(self) -> list[str]:
        """Raise LifecycleError for a policy S3 would refuse; return warnings for a costly one."""
        floor = MIN_TRANSITION_DAYS.get(self.storage_class, 0)
        if self.glacier_days < max(floor, 1):
            raise LifecycleError(f"{self.storage_class} transitions need at least {max(floor, 1)} days")
        if self.archive_days and self.archive_days <= self.glacier_days:
            raise LifecycleError(
                f"the archive expires after {self.archive_days} days, before it is archived "
                f"({self.glacier_days}); raise UTAKATA_ARCHIVE_RETENTION_DAYS or set it to 0"
            )
        warnings = []
        minimum = MINIMUM_DAYS.get(self.storage_class, 0)
        if self.archive_days and self.archive_days - self.glacier_days < minimum:
            warnings.append(
                f"bundles expire {self.archive_days - self.glacier_days} days after they reach "
                f"{self.storage_class}, whose minimum storage duration is {minimum} days: early deletion is billed"
            )
        return warnings


def rules(prefix: str, policy: Policy) -> list[dict[str, Any]]:
    """The rules for a log stored under prefix ("" or "something/")."""
    daily = f"{prefix}{k.DAILY}"
    made: list[dict[str, Any]] = [
        {
            "ID": f"{RULE_PREFIX}daily-to-{policy.storage_class.lower()}",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": daily, "ObjectSizeGreaterThan": MIN_TRANSITION_SIZE}},
            "Transitions": [{"Days": policy.glacier_days, "StorageClass": policy.storage_class}],
        }
    ]
    if policy.archive_days:
        made.append(
            {
                "ID": f"{RULE_PREFIX}daily-expire",
                "Status": "Enabled",
                "Filter": {"Prefix": daily},
                "Expiration": {"Days": policy.archive_days},
            }
        )
    made.append(
        {
            # A snapshot upload that died half-way leaves parts that are billed until aborted.
            "ID": f"{RULE_PREFIX}abort-incomplete-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        }
    )
    return made


def describe(rule: dict[str, Any]) -> str:
    """One line a person can read for a rule."""
    filt = rule.get("Filter", {})
    scope = filt.get("And", filt)
    where = scope.get("Prefix", rule.get("Prefix", "")) or "(whole bucket)"
    if "ObjectSizeGreaterThan" in scope:
        where += f" over {scope['ObjectSizeGreaterThan'] // 1024} KB"
    actions = [f"to {t['StorageClass']} after {t['Days']} days" for t in rule.get("Transitions", [])]
    if "Expiration" in rule:
        actions.append(f"expire after {rule['Expiration'].get('Days')} days")
    if "AbortIncompleteMultipartUpload" in rule:
        actions.append(
            f"abort unfinished uploads after {rule['AbortIncompleteMultipartUpload']['DaysAfterInitiation']} days"
        )
    status = "" if rule.get("Status") == "Enabled" else f" [{rule.get('Status')}]"
    return f"{rule.get('ID', '?')}: {where}: {', '.join(actions) or 'no action'}{status}"


def _scope(rule: dict[str, Any]) -> dict[str, Any]:
    """What objects a rule applies to, however the endpoint spelled its filter."""
    filt = rule.get("Filter")
    if filt is None:
        return {"Prefix": rule.get("Prefix") or "", "ObjectSizeGreaterThan": None, "ObjectSizeLessThan": None}
    inner = filt.get("And", filt)
    return {
        "Prefix": inner.get("Prefix") or "",
        "ObjectSizeGreaterThan": inner.get("ObjectSizeGreaterThan"),
        "ObjectSizeLessThan": inner.get("ObjectSizeLessThan"),
    }


def _fate(rule: dict[str, Any]) -> str:
    """What a rule does to the objects it applies to, as a verb phrase ("be moved to GLACIER after 30 days")."""
    fates = [f"be moved to {t.get('StorageClass')} after {t.get('Days')} days" for t in rule.get("Transitions") or []]
    if rule.get("Expiration"):
        fates.append(f"expire after {rule['Expiration'].get('Days')} days")
    if rule.get("AbortIncompleteMultipartUpload"):
        days = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        fates.append(f"have their unfinished uploads aborted after {days} days")
    return " and ".join(fates) or "be left alone"


def changes(asked: list[dict[str, Any]], kept: list[dict[str, Any]]) -> list[str]:
    """Each way the rules read back (kept) differ from the rules put (asked), in words, with what it means."""
    found = []
    by_id = {rule.get("ID"): rule for rule in kept}
    for rule in asked:
        ident = rule["ID"]
        stored = by_id.get(ident)
        if stored is None:
            found.append(
                f"{ident}: the endpoint kept no such rule: nothing under {_scope(rule)['Prefix']} will {_fate(rule)}"
            )
            continue
        want, have = _scope(rule), _scope(stored)
        where = want["Prefix"] or "the whole bucket"
        if have["Prefix"] != want["Prefix"]:
            found.append(
                f"{ident}: applies to {have['Prefix'] or 'the whole bucket'} instead of {where}: "
                f"objects there will {_fate(stored)}"
            )
        if want["ObjectSizeGreaterThan"] is not None and have["ObjectSizeGreaterThan"] != want["ObjectSizeGreaterThan"]:
            kept_size = have["ObjectSizeGreaterThan"]
            found.append(
                f"{ident}: the endpoint dropped ObjectSizeGreaterThan ({want['ObjectSizeGreaterThan']} bytes)"
                + (f", keeping {kept_size}" if kept_size is not None else "")
                + f": small objects under {where} will {_fate(stored)} too, the manifests among "
                "them. Where that class must be restored before a read (AWS "
                "GLACIER, DEEP_ARCHIVE) a point-in-time restore then needs them restored first, and each "
                "archived object is billed about 40 KB of overhead; an endpoint that serves the class directly "
                "(Ceph RGW) reads them as before"
            )
        for part in ("Transitions", "Expiration", "AbortIncompleteMultipartUpload"):
            if _normal(rule.get(part)) != _normal(stored.get(part)):
                found.append(
                    f"{ident}: {part} is {stored.get(part)!r} instead of {rule.get(part)!r}: objects under "
                    f"{have['Prefix'] or 'the whole bucket'} will {_fate(stored)}"
                )
        if stored.get("Status") != rule.get("Status"):
            found.append(f"{ident}: the rule is {stored.get('Status')}, not {rule.get('Status')}")
    return found


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normal(item) for item in value), key=repr)
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items() if key != "Date" or item is not None}
    return value


class BucketRules:
    """The lifecycle configuration of the bucket an S3Log writes to."""

    def __init__(self, log) -> None:
        if not hasattr(log, "bucket") or not hasattr(log, "config"):
            raise LifecycleError(
                f"the log at {log.location!r} is not in S3: lifecycle rules are an S3 feature "
                "(set UTAKATA_LOG_URL=s3://bucket/prefix); a local log keeps every object where it is"
            )
        self.bucket = log.bucket
        self.prefix = log.prefix
        # A client of our own, configured like the log's (endpoint, timeouts, retries).
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=log.endpoint, region_name=log.options.get("region_name") or None, config=log.config
        )

    def current(self) -> list[dict[str, Any]]:
        try:
            return self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get("Rules", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                return []
            raise LifecycleError(f"cannot read the lifecycle rules of s3://{self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise LifecycleError(f"cannot reach s3://{self.bucket}: {exc}") from exc

    def apply(self, policy: Policy) -> tuple[list[dict[str, Any]], list[str]]:
        """Replace this app's rules (others stay), read them back: (this app's rules as kept, what changed)."""
        others = [rule for rule in self.current() if not str(rule.get("ID", "")).startswith(RULE_PREFIX)]
        ours = rules(self.prefix, policy)
        config = {"Rules": others + ours}
        try:
            self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration=config)
        except (ClientError, BotoCoreError) as exc:
            raise LifecycleError(f"s3://{self.bucket} refused the lifecycle rules: {exc}") from exc
        kept = [rule for rule in self.current() if str(rule.get("ID", "")).startswith(RULE_PREFIX)]
        return kept, changes(ours, kept)
