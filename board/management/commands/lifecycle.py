"""manage.py lifecycle [--show] [--dry-run] [--accept-changes]: the S3 lifecycle rules that tier the log's archive."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from board.lifecycle.errors import LifecycleError
from board.lifecycle.tiering import BucketRules, Policy, describe, rules
from board.log import get_log


class Command(BaseCommand):
    help = (
        "Set the log bucket's lifecycle rules: daily bundles move to UTAKATA_GLACIER_STORAGE_CLASS after "
        "UTAKATA_GLACIER_DAYS, expire after UTAKATA_ARCHIVE_RETENTION_DAYS (0 = never), and unfinished "
        "multipart uploads are aborted. The rules are read back and printed as the endpoint kept them; if it "
        "kept them otherwise than asked (Ceph RGW drops the size condition) the command says what that means "
        "and exits 1, unless --accept-changes. --show prints the bucket's rules as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--show", action="store_true", help="print the bucket's current rules, change nothing")
        parser.add_argument("--dry-run", action="store_true", help="print the rules that would be applied")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the rules as S3's JSON")
        parser.add_argument(
            "--accept-changes",
            action="store_true",
            help="exit 0 even if the endpoint kept the rules otherwise than asked (still printed as warnings)",
        )

    def handle(self, *args, show, dry_run, as_json, accept_changes, **options):
        policy = Policy(settings.GLACIER_DAYS, settings.GLACIER_STORAGE_CLASS, settings.ARCHIVE_RETENTION_DAYS)
        try:
            warnings = policy.check()
            bucket = BucketRules(get_log())
            if show:
                self.print_rules(bucket.current(), as_json, f"lifecycle rules of s3://{bucket.bucket}")
                return
            if dry_run:
                self.print_rules(rules(bucket.prefix, policy), as_json, "would apply")
                return
            kept, changed = bucket.apply(policy)
        except LifecycleError as exc:
            raise CommandError(str(exc)) from exc
        for warning in warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        self.print_rules(kept, as_json, f"lifecycle rules in force on s3://{bucket.bucket} (read back)")
        if not changed:
            self.stdout.write(self.style.SUCCESS("lifecycle rules applied, and the endpoint kept them as asked"))
            return
        for change in changed:
            self.stderr.write(self.style.WARNING(f"not as asked: {change}"))
        if not accept_changes:
            raise CommandError(
                f"the endpoint at s3://{bucket.bucket} did not keep the lifecycle rules as asked ({len(changed)} "
                "change(s) above); the rules printed are in force. If that is acceptable on this endpoint, run "
                "again with --accept-changes"
            )
        self.stdout.write(self.style.WARNING(f"lifecycle rules applied with {len(changed)} change(s), accepted"))

    def print_rules(self, found: list[dict], as_json: bool, title: str) -> None:
        if as_json:
            self.stdout.write(json.dumps({"Rules": found}, indent=2, ensure_ascii=False, default=str))
            return
        self.stdout.write(f"{title}:" if found else f"{title}: none")
        for rule in found:
            self.stdout.write(f"  {describe(rule)}")
