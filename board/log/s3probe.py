"""The S3 log's probe: no write on an endpoint that would let a post overwrite another.

The probe: before the first write of a process to an endpoint and bucket,
one key under ``.utakata-probe/`` is created twice with ``If-None-Match: *``.
An endpoint that accepts the second PUT would let a post overwrite another
one, so every write is refused with UnsafeLog naming the endpoint. Reads
never probe: read-only commands work on any endpoint. The verdict is kept
for the life of the process (a refusal is not retried; a probe that could
not reach the endpoint is).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid

from botocore.exceptions import BotoCoreError, ClientError

from board.log.base import LogUnavailable, UnsafeLog
from board.log.s3wire import conditional_outcome, content_md5, error_code

logger = logging.getLogger(__name__)

PROBE_DIR = ".utakata-probe/"

# Per process: (endpoint, bucket) -> "" when conditional PUTs are honoured, else why not.
_verdicts: dict[tuple[str, str], str] = {}
_verdicts_lock = threading.Lock()


class ConditionalWritesProbe:
    """S3Log's probe of its endpoint (a mixin: it uses S3Log's client, bucket and error translation)."""

    def check_conditional_writes(self) -> None:
        """Raise UnsafeLog unless the endpoint refuses a second ``If-None-Match: *`` PUT of a key.

        Probed once per process, endpoint and bucket, before the first write;
        create() and create_from_file() call this, so no write is ever made
        on an endpoint that would let it overwrite another.
        """
        ident = (self.endpoint, self.bucket)
        verdict = _verdicts.get(ident)
        if verdict is None:
            with _verdicts_lock:
                verdict = _verdicts.get(ident)
                if verdict is None:
                    try:
                        verdict = _verdicts[ident] = self._probe()
                    except LogUnavailable as exc:
                        exc.unsent = True  # the probe failed, not the write: nothing of it was sent
                        raise
        if verdict:
            raise UnsafeLog(verdict)

    def _probe(self) -> str:
        key = f"{PROBE_DIR}{os.getpid()}-{uuid.uuid4().hex}"
        full = self.prefix + key
        where = f"s3://{self.bucket}/{full}"
        try:
            for attempt, body in enumerate((b"first", b"second")):
                try:
                    self._client.put_object(
                        Bucket=self.bucket, Key=full, Body=body, IfNoneMatch="*", ContentMD5=content_md5(body)
                    )
                except ClientError as exc:
                    if conditional_outcome(exc) is not None:
                        if attempt == 0:
                            continue  # a retried first PUT whose first attempt landed
                        logger.info("S3 endpoint %s refuses to overwrite with If-None-Match: *", self.endpoint)
                        return ""
                    if error_code(exc) == "NotImplemented":
                        return (
                            f"S3 endpoint {self.endpoint} (bucket {self.bucket}) does not implement conditional "
                            f"PUTs (If-None-Match: *, NotImplemented on {where}): the log cannot refuse to "
                            "overwrite an acknowledged post there, so nothing is written. Use an endpoint that "
                            "does (AWS S3, MinIO since 2024, Ceph RGW 16.2+; see README, S3 endpoints)"
                        )
                    raise self._error(exc, "probing conditional writes at", key) from exc
                except BotoCoreError as exc:
                    raise self._error(exc, "probing conditional writes at", key) from exc
            return (
                f"S3 endpoint {self.endpoint} (bucket {self.bucket}) ignores If-None-Match: * on PutObject: "
                f"a second conditional PUT of {where} was accepted and replaced the first. On it one post "
                "could overwrite another already acknowledged, so the log refuses every write. Use an endpoint "
                "that honours conditional writes (AWS S3, MinIO since 2024, Ceph RGW 16.2+; see README, "
                "S3 endpoints), or remove the proxy that drops the header"
            )
        finally:
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": full}], "Quiet": True})
