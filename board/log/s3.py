"""The durable log in S3 or an S3-compatible store (``s3://bucket/prefix``).

Every key is stored under the location's prefix (``s3://utakata/prod`` puts
``incoming/...`` at ``prod/incoming/...``); list() strips it back off.

Options (the URL's query string, plus what settings add):

    endpoint_url      "" or absent means AWS; e.g. http://minio:9000
    region_name       e.g. us-east-1
    connect_timeout   seconds, default 2
    read_timeout      seconds, default 10
    max_attempts      attempts per request including the first, default 3
                      (botocore's "standard" retry mode)
    addressing_style  auto | path | virtual; default path for a custom
                      endpoint (MinIO, Ceph RGW), auto for AWS
    checksums         when_supported (default) | when_required: whether
                      botocore adds CRC32 checksums to requests and checks
                      them on responses; older RGW/MinIO may need
                      when_required. Content-MD5 is sent on every upload
                      either way, so a body corrupted in transit is refused.
    multipart_chunksize  bytes per part for create_from_file, default 16 MiB
                      (at least 5 MiB, S3's minimum part size)

create() is a conditional put (``If-None-Match: *``). When the put comes back
412 the key is taken, but the taker may be this very write: a retried PUT
whose first attempt reached S3 but whose answer was lost. So on 412 the
object is read back, and identical bytes count as success.

Large objects (create_from_file, from multipart_chunksize up) are claimed,
not uploaded in place. Ceph RGW 16.2 ignores ``If-None-Match`` on
CompleteMultipartUpload and replaces the object, so a conditional multipart
upload protects nothing there. Instead the bytes go up, by an unconditional
multipart upload, to a data object named after their content,
``<key>~data~<sha256[:32]>``, and then a small conditional PUT at ``<key>``
claims the key: the claim is an object whose metadata
(``x-amz-meta-utakata-data``) names that suffix, with the size and sha256.
Single PUTs are conditional on every endpoint that passes the probe below,
so this holds on AWS, MinIO and RGW alike, with one layout everywhere.

- open()/read() follow a claim to its data (one more GET); exists() is the
  claim's HEAD.
- list() never shows a data object: it sorts right after its claim (the key
  is its prefix), so the claim is reported with the data's size and storage
  class once the keys that start with it have been listed.
- delete() removes the claims and their data (found by one listing of the
  batch's key range), replace() removes the data of a claim it overwrites.
- The same bytes created again find the claim naming their own data and
  succeed without uploading; other bytes are AlreadyExists, and the refused
  writer deletes the data it uploaded. A writer killed between its upload and
  its claim leaves a data object that no claim names: the same bytes written
  again (every lifecycle writer retries with the same bytes) reuse it,
  delete() of the key removes it, and remove_orphans() (the snapshot job's
  prune) removes it a day later.
- Data objects live under their key's prefix, so lifecycle rules by prefix
  (tiering of daily/, expiry) apply to them as to the key.

The probe: before the first write of a process to an endpoint and bucket,
one key under ``.utakata-probe/`` is created twice with ``If-None-Match: *``.
An endpoint that accepts the second PUT would let a post overwrite another
one, so every write is refused with UnsafeLog naming the endpoint. Reads
never probe: read-only commands work on any endpoint. The verdict is kept
for the life of the process (a refusal is not retried; a probe that could
not reach the endpoint is).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.core.exceptions import ImproperlyConfigured

from board.log.base import (
    AlreadyExists,
    Archived,
    BaseLog,
    LogError,
    LogUnavailable,
    NotFound,
    ObjectInfo,
    UnsafeLog,
)

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
# Failures to connect: the request never left this machine, so it cannot land later.
UNSENT_ERRORS = (EndpointConnectionError, ConnectTimeoutError)
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_CHUNKSIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
DELETE_BATCH = 1000
COMPARE_CHUNK = 1 * MiB

# A large object's data sits at <key>~data~<first 32 hex digits of its sha256>.
DATA_SEP = "~data~"
_DATA_SUFFIX = re.compile(r"~data~[0-9a-f]{32}\Z")
CLAIM_META = "utakata-data"  # x-amz-meta-utakata-data: the data object's suffix
SIZE_META = "utakata-size"
SHA_META = "utakata-sha256"
# A claim's own body is under 200 bytes: a listed object larger than this is never a claim.
CLAIM_MAX_SIZE = 4096
PROBE_DIR = ".utakata-probe/"
# delete() lists the range of a batch's keys for their data, unless it holds this many more keys than the batch.
SPAN_SLACK = 1000

# Per process: (endpoint, bucket) -> "" when conditional PUTs are honoured, else why not.
_verdicts: dict[tuple[str, str], str] = {}
_verdicts_lock = threading.Lock()

KNOWN_OPTIONS = frozenset(
    {
        "endpoint_url",
        "region_name",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "addressing_style",
        "checksums",
        "multipart_chunksize",
    }
)
# Storage classes whose objects must be restored before a GET (GLACIER_IR is readable at once).
COLD_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
)


class S3Log(BaseLog):
    """The durable log in an S3 bucket, through boto3 (one client per instance)."""

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        bucket, _, prefix = location.strip("/").partition("/")
        if not bucket:
            raise ImproperlyConfigured(f"S3 log location {location!r} names no bucket (s3://bucket/prefix)")
        unknown = sorted(set(self.options) - KNOWN_OPTIONS)
        if unknown:
            raise ImproperlyConfigured(
                f"S3 log: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(KNOWN_OPTIONS))})"
            )
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

        endpoint_url = self.options.get("endpoint_url") or None
        region_name = self.options.get("region_name") or None
        addressing_style = self.options.get("addressing_style") or ("path" if endpoint_url else "auto")
        if addressing_style not in {"auto", "path", "virtual"}:
            raise ImproperlyConfigured(f"S3 log: addressing_style={addressing_style!r} (auto, path or virtual)")
        checksums = self.options.get("checksums") or "when_supported"
        if checksums not in {"when_supported", "when_required"}:
            raise ImproperlyConfigured(f"S3 log: checksums={checksums!r} (when_supported or when_required)")
        self.multipart_chunksize = _option(self.options, "multipart_chunksize", DEFAULT_CHUNKSIZE, int)
        if self.multipart_chunksize < MIN_PART_SIZE:
            raise ImproperlyConfigured(
                f"S3 log: multipart_chunksize={self.multipart_chunksize} is below S3's {MIN_PART_SIZE}-byte minimum"
            )
        self.config = Config(
            connect_timeout=_option(self.options, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, float),
            read_timeout=_option(self.options, "read_timeout", DEFAULT_READ_TIMEOUT, float),
            retries={
                "mode": "standard",
                # botocore's own "max_attempts" counts retries only; ours counts the first try too.
                "total_max_attempts": _option(self.options, "max_attempts", DEFAULT_MAX_ATTEMPTS, int),
            },
            s3={"addressing_style": addressing_style},
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        )
        # A session of our own: boto3's default session is not safe to share
        # between threads while clients are being made.
        session = boto3.session.Session()
        self._client = session.client("s3", endpoint_url=endpoint_url, region_name=region_name, config=self.config)
        self.endpoint = self._client.meta.endpoint_url
        # Whether any attempt of this thread's current PutObject reached the server
        # (botocore retries inside one call): a write none of whose attempts connected
        # surely did not land, so the poster can be told "not saved" (board/posting/confirm.py).
        self._attempts = threading.local()
        self._client.meta.events.register("needs-retry.s3.PutObject", self._note_attempt)

    def _note_attempt(self, caught_exception=None, **kwargs) -> None:
        if caught_exception is None or not isinstance(caught_exception, UNSENT_ERRORS):
            self._attempts.delivered = True

    # --- keys and errors -----------------------------------------------------

    def _full(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"invalid log key {key!r}")
        if DATA_SEP in key or key.startswith(PROBE_DIR):
            raise ValueError(f"invalid log key {key!r}: {DATA_SEP!r} and {PROBE_DIR!r} are reserved")
        return self.prefix + key

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def _error(self, exc: Exception, doing: str, key: str) -> LogError:
        """Translate a botocore failure into the log's vocabulary."""
        where = self._where(key)
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = error.get("Message", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "NoSuchBucket":
                return LogError(
                    f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}: create it or fix UTAKATA_LOG_URL"
                )
            if code in {"NoSuchKey", "NotFound", "404"}:
                return NotFound(f"no object at {where}")
            if code == "InvalidObjectState":
                return Archived(self._archived_message(key, error.get("StorageClass") or "GLACIER"))
            if code in ACCESS_CODES or status == 403:
                return LogError(
                    f"S3 at {self.endpoint} refused {doing} {where} ({code}: {message}); "
                    "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket policy"
                )
            if status >= 500 or code in TRANSIENT_CODES:
                return LogUnavailable(
                    f"S3 endpoint {self.endpoint} failed while {doing} {where}: {code} ({status}) {message}"
                )
            return LogError(f"S3 at {self.endpoint} failed {doing} {where}: {code} ({status}) {message}")
        if isinstance(exc, BotoConnectionError | HTTPClientError):
            # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
            # ConnectionClosedError, ResponseStreamingError, SSLError, ...
            return LogUnavailable(f"S3 endpoint {self.endpoint} unreachable while {doing} {where}: {exc}")
        if isinstance(exc, FlexibleChecksumError | ChecksumError):
            return LogUnavailable(
                f"S3 endpoint {self.endpoint}: checksum mismatch while {doing} {where} (corrupted in transit): {exc}"
            )
        if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
            return LogError(f"S3 log: no usable credentials for {self.endpoint}: {exc}")
        return LogError(f"S3 log: {doing} {where} failed: {exc}")

    def _archived_message(self, key: str, storage_class: str) -> str:
        endpoint = "" if self.endpoint.endswith(".amazonaws.com") else f" --endpoint-url {self.endpoint}"
        return (
            f"{self._where(key)} is in storage class {storage_class} and must be restored before it "
            f"can be read: aws s3api restore-object{endpoint} --bucket {self.bucket} "
            f"--key {self.prefix}{key} --restore-request Days=7,GlacierJobParameters={{Tier=Standard}} "
            f'then wait until head-object shows Restore: ongoing-request="false" (hours for '
            f"{storage_class}) and read it again"
        )

    def _call(self, doing: str, key: str, method: str, **kwargs: Any) -> dict:
        try:
            return getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, doing, key) from exc

    # --- the probe -------------------------------------------------------------

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
                        Bucket=self.bucket, Key=full, Body=body, IfNoneMatch="*", ContentMD5=_md5(body)
                    )
                except ClientError as exc:
                    if _conditional_outcome(exc) is not None:
                        if attempt == 0:
                            continue  # a retried first PUT whose first attempt landed
                        logger.info("S3 endpoint %s refuses to overwrite with If-None-Match: *", self.endpoint)
                        return ""
                    if _code(exc) == "NotImplemented":
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

    # --- writes --------------------------------------------------------------

    def create(self, key: str, data: bytes) -> None:
        data = bytes(data)
        full = self._full(key)
        self.check_conditional_writes()
        self._attempts.delivered = False
        for _ in range(3):
            try:
                self._client.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*", ContentMD5=_md5(data))
                return
            except ClientError as exc:
                outcome = _conditional_outcome(exc)
                if outcome is None:
                    raise self._error(exc, "writing", key) from exc
                holds = self._holds(key, lambda body: _read_full(body, len(data) + 1) == data)
                if holds:
                    return  # the same bytes are there: our own earlier attempt, or an identical event
                if holds is False:
                    raise AlreadyExists(f"{self._where(key)} already exists") from exc
                # Nothing there: a 412 whose object was deleted meanwhile, or a
                # 409 whose racing write failed. Either way, try again.
            except BotoCoreError as exc:
                error = self._error(exc, "writing", key)
                if isinstance(error, LogUnavailable) and isinstance(exc, UNSENT_ERRORS):
                    error.unsent = not self._attempts.delivered
                raise error from exc
        raise LogUnavailable(f"S3 endpoint {self.endpoint}: writes to {self._where(key)} keep conflicting")

    def create_from_file(self, key: str, fileobj: BinaryIO) -> None:
        """A small file is one conditional put; a large one goes up as data, then is claimed.

        The data is hashed first (its name is its content), so that a second
        writer of the same bytes, the usual retry, finds them claimed
        already and uploads nothing.
        """
        self._full(key)
        first = _read_full(fileobj, self.multipart_chunksize)
        if len(first) < self.multipart_chunksize:
            self.create(key, first)
            return
        self.check_conditional_writes()
        with _measured(first, fileobj) as (source, size, sha):
            found = self._head(key)
            if found is not None:
                if self._same(key, found, size, sha):
                    return
                raise AlreadyExists(f"{self._where(key)} already exists")
            suffix = DATA_SEP + sha[:32]
            self._upload(key + suffix, source)
            self._claim(key, suffix, size, sha)

    def _upload(self, data_key: str, source: BinaryIO) -> None:
        """An unconditional multipart upload (its key is its content), aborted on any failure.

        A loop of its own rather than boto3's upload_fileobj, so that every
        part carries its Content-MD5, as every other upload of the log does
        whatever the checksums option says.
        """
        full = self.prefix + data_key
        chunksize = self.multipart_chunksize
        with_checksums = self.config.request_checksum_calculation == "when_supported"
        extra = {"ChecksumAlgorithm": "CRC32"} if with_checksums else {}
        upload_id = self._call("starting an upload of", data_key, "create_multipart_upload", Key=full, **extra)[
            "UploadId"
        ]
        parts: list[dict[str, Any]] = []
        try:
            while piece := _read_full(source, chunksize):
                number = len(parts) + 1
                if number > MAX_PARTS:
                    raise LogError(
                        f"{self._where(data_key)}: more than {MAX_PARTS} parts of {chunksize} bytes; "
                        "raise multipart_chunksize"
                    )
                answer = self._call(
                    "uploading to",
                    data_key,
                    "upload_part",
                    Key=full,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=piece,
                    ContentMD5=_md5(piece),
                    **extra,
                )
                part = {"PartNumber": number, "ETag": answer["ETag"]}
                if with_checksums and answer.get("ChecksumCRC32"):
                    part["ChecksumCRC32"] = answer["ChecksumCRC32"]
                parts.append(part)
            self._call(
                "completing the upload of",
                data_key,
                "complete_multipart_upload",
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(full, upload_id)
            raise

    def _claim(self, key: str, suffix: str, size: int, sha: str) -> None:
        """The conditional PUT that makes uploaded data the object at key."""
        body = (json.dumps({"data": suffix, "sha256": sha, "size": size}, sort_keys=True) + "\n").encode()
        meta = {CLAIM_META: suffix, SIZE_META: str(size), SHA_META: sha}
        for _ in range(3):
            try:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=self.prefix + key,
                    Body=body,
                    IfNoneMatch="*",
                    ContentMD5=_md5(body),
                    Metadata=meta,
                )
                return
            except ClientError as exc:
                # Any other refusal leaves the data: a retried PUT may have landed
                # before it; the same bytes written again reuse it.
                if _conditional_outcome(exc) is None:
                    raise self._error(exc, "claiming", key) from exc
                found = self._head(key)
                if found is None:
                    continue  # a 409 whose racing write failed, or deleted meanwhile
                if found.suffix == suffix:
                    return  # our own earlier attempt, or a writer of the same bytes
                same = self._same(key, found, size, sha)
                self._forget_data(key + suffix)  # named by no claim: the key holds other data
                if same:
                    return
                raise AlreadyExists(f"{self._where(key)} already exists") from exc
            except BotoCoreError as exc:
                raise self._error(exc, "claiming", key) from exc
        raise LogUnavailable(f"S3 endpoint {self.endpoint}: claims of {self._where(key)} keep conflicting")

    def _forget_data(self, data_key: str) -> None:
        try:
            self._delete_full([self.prefix + data_key])
        except LogError as exc:
            logger.warning(
                "could not remove %s after a refused create (%s); delete() of its key removes it", data_key, exc
            )

    def _head(self, key: str) -> _Head | None:
        """What is stored at key, without its body; None if nothing."""
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "NotFound", "404"}:
                return None
            raise self._error(exc, "looking up", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "looking up", key) from exc
        suffix = self._claimed(key, answer)
        if suffix is None:
            return _Head(answer.get("ContentLength", 0), None, None, None)
        meta = answer.get("Metadata") or {}
        try:
            claimed_size = int(meta.get(SIZE_META, ""))
        except ValueError:
            raise LogError(f"{self._where(key)}: a claim with no valid {SIZE_META}") from None
        return _Head(answer.get("ContentLength", 0), suffix, claimed_size, meta.get(SHA_META, ""))

    def _same(self, key: str, found: _Head, size: int, sha: str) -> bool:
        """Whether the object found at key holds exactly size bytes hashing to sha."""
        if found.suffix is not None:
            return found.claimed_size == size and found.sha256 == sha
        # An object uploaded in place (before claims, or small): compare its bytes.
        holds = self._holds(key, lambda body: _sha256_of(body, size) == sha, size=size)
        return bool(holds)

    def _claimed(self, key: str, answer: dict) -> str | None:
        """The data suffix a GET or HEAD answer's claim names; None for an object stored in place."""
        suffix = (answer.get("Metadata") or {}).get(CLAIM_META)
        if suffix is None:
            return None
        if not _DATA_SUFFIX.match(suffix):
            raise LogError(f"{self._where(key)}: claim names {suffix!r}, not a data object of this log")
        return suffix

    def _abort(self, full: str, upload_id: str) -> None:
        # Gone already, or unreachable: a lifecycle rule should expire incomplete uploads.
        with contextlib.suppress(ClientError, BotoCoreError):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)

    def _get(self, key: str, doing: str) -> tuple[dict, str]:
        """GetObject of key, following a claim to its data: (the answer, the key it came from)."""
        answer = self._call(doing, key, "get_object", Key=self._full(key))
        suffix = self._claimed(key, answer)
        if suffix is None:
            return answer, key
        answer["Body"].close()
        data_key = key + suffix
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self.prefix + data_key), data_key
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                raise _DataGone(f"{self._where(key)} is claimed but its data {self._where(data_key)} is gone") from exc
            raise self._error(exc, doing, data_key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, doing, data_key) from exc

    def _holds(self, key: str, same, size: int | None = None) -> bool | None:
        """Whether the object at key passes same(body): None if there is none."""
        try:
            answer, _ = self._get(key, "reading back")
        except _DataGone:
            return False  # a claim is there, so certainly not these bytes
        except NotFound:
            return None
        except Archived:
            return False  # cold, so certainly not the write we just made
        body = answer["Body"]
        try:
            if size is not None and answer.get("ContentLength") != size:
                return False
            return bool(same(body))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "reading back", key) from exc
        finally:
            body.close()

    def replace(self, key: str, data: bytes) -> None:
        data = bytes(data)
        self._call("writing", key, "put_object", Key=self._full(key), Body=data, ContentMD5=_md5(data))
        # An object claimed before keeps no data: replace() is for small pointers.
        stale = [self.prefix + info.key for info in self._raw_list(key + DATA_SEP)]
        if stale:
            self._delete_full(stale)

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            self._full(key)
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete_keys(batch)
                batch = []
        if batch:
            self._delete_keys(batch)

    def _delete_keys(self, keys: list[str]) -> None:
        data = self._data_of(keys)
        # Claims first: a reader may find data without a claim (never listed), not a claim without data.
        self._delete_full([self.prefix + key for key in keys])
        self._delete_full([self.prefix + key for key in data])

    def _data_of(self, keys: list[str]) -> list[str]:
        """The data objects of those keys, claimed or left by a writer that died before its claim.

        One listing of the keys' range (each key's data sorts right after it),
        unless the range turns out crowded with other keys: then one listing
        per key.
        """
        wanted = sorted(set(keys))
        names = set(wanted)
        last = wanted[-1]
        # Past the last key, only the keys that start with it or with a wanted prefix of it can be data.
        tails = tuple(key for key in wanted if last.startswith(key))
        budget = 2 * len(wanted) + SPAN_SLACK
        found = []
        for scanned, info in enumerate(self._raw_list(os.path.commonprefix(wanted), wanted[0])):
            if info.key > last and not info.key.startswith(tails):
                return found
            if _logical(info.key) in names:
                found.append(info.key)
            if scanned > budget:
                return [info.key for key in wanted for info in self._raw_list(key + DATA_SEP)]
        return found

    def _delete_full(self, full_keys: list[str]) -> None:
        for start in range(0, len(full_keys), DELETE_BATCH):
            self._delete_batch([{"Key": key} for key in full_keys[start : start + DELETE_BATCH]])

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        first = batch[0]["Key"][len(self.prefix) :]
        answer = self._call("deleting", first, "delete_objects", Delete={"Objects": batch, "Quiet": True})
        errors = [e for e in answer.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if errors:
            sample = errors[0]
            message = (
                f"S3 at {self.endpoint} refused to delete {len(errors)} object(s), e.g. "
                f"s3://{self.bucket}/{sample.get('Key')}: {sample.get('Code')} {sample.get('Message', '')}"
            )
            if all(e.get("Code") in TRANSIENT_CODES for e in errors):
                raise LogUnavailable(message)
            raise LogError(message)

    # --- reads ---------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        answer, where = self._get(key, "reading")
        return _Stream(answer["Body"], lambda exc: self._error(exc, "reading", where))  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "NotFound", "404"}:
                return False
            raise self._error(exc, "looking up", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "looking up", key) from exc
        return True

    def remove_orphans(self, prefix: str = "", older_than: timedelta = timedelta(days=1)) -> list[str]:
        """Delete the data objects no claim names that are older than older_than; return their keys.

        They are left by a writer killed between its upload and its claim
        whose bytes are never written again (delete() of their key removes
        them too). A live writer claims within seconds of its upload, so a
        day's age makes sure none is removed under it.
        """
        cutoff = datetime.now(UTC) - older_than
        chain: list[ObjectInfo] = []  # the listed objects whose keys the current key starts with
        found: dict[str, list[str]] = {}
        doomed = []
        for info in self._raw_list(prefix):
            while chain and not info.key.startswith(chain[-1].key):
                chain.pop()
            logical = _logical(info.key)
            if logical is None:
                chain.append(info)
            elif info.modified < cutoff:
                holder = next((held for held in chain if held.key == logical), None)
                if holder is not None and holder.size <= CLAIM_MAX_SIZE:
                    found.setdefault(logical, []).append(info.key)
                else:
                    doomed.append(info.key)  # no object at its key, or one stored in place
        for logical, data in found.items():
            if len(data) > 1:  # a claim's data and a dead writer's: keep the one the claim names
                head = self._head(logical)
                named = logical + (head.suffix or "") if head is not None else ""
                doomed += [key for key in data if key != named]
        if doomed:
            self._delete_full([self.prefix + key for key in doomed])
        return doomed

    def stored_key(self, key: str) -> str:
        """The S3 key (with the log's prefix) that holds key's bytes: its data object if it is claimed."""
        found = self._head(key)
        return self.prefix + key + (found.suffix if found is not None and found.suffix else "")

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        # A claim is held back until the keys that start with it have gone by
        # (they are listed right after it, its data among them), then reported
        # with its data's size and storage class.
        held: deque[ObjectInfo] = deque()
        data: dict[str, list[ObjectInfo]] = {}
        for info in self._raw_list(prefix, start_after):
            while held and not info.key.startswith(held[0].key):
                yield self._settled(held.popleft(), data)
            logical = _logical(info.key)
            if logical is not None:
                if any(h.key == logical for h in held):
                    data.setdefault(logical, []).append(info)
                continue  # never a log object of its own
            if info.key.startswith(PROBE_DIR):
                continue
            held.append(info)
        while held:
            yield self._settled(held.popleft(), data)

    def _settled(self, info: ObjectInfo, data: dict[str, list[ObjectInfo]]) -> ObjectInfo:
        candidates = data.pop(info.key, None)
        if not candidates or info.size > CLAIM_MAX_SIZE:
            return info  # stored in place (data beside a large object is a dead writer's)
        chosen = candidates[0]
        if len(candidates) > 1:
            # Data of a claim and of a writer that died before its claim: ask the claim.
            found = self._head(info.key)
            named = [c for c in candidates if found is not None and c.key == info.key + (found.suffix or "")]
            if not named:
                return info
            chosen = named[0]
        return ObjectInfo(info.key, chosen.size, info.modified, chosen.storage_class)

    def _raw_list(self, prefix: str, start_after: str = "") -> Iterator[ObjectInfo]:
        """Every object under prefix as S3 lists it, data objects and probes included."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after:
            kwargs["StartAfter"] = self.prefix + start_after
        strip = len(self.prefix)
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(**kwargs):
                for item in page.get("Contents", ()):
                    key = item["Key"][strip:]
                    if not key:
                        continue  # a "folder" marker at the prefix itself
                    yield ObjectInfo(
                        key=key,
                        size=item["Size"],
                        modified=item["LastModified"].astimezone(UTC),
                        storage_class=item.get("StorageClass") or "STANDARD",
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "listing", prefix) from exc

    def close(self) -> None:
        self._client.close()


class _DataGone(NotFound):
    """A claim whose data object is missing: the key is taken, its bytes are lost."""


@dataclass(frozen=True, slots=True)
class _Head:
    """What a HEAD of a key says: its own size, and the claim's data suffix, size and sha256 if it is one."""

    size: int
    suffix: str | None
    claimed_size: int | None
    sha256: str | None


def _logical(key: str) -> str | None:
    """The key whose data object key is; None for every other key."""
    found = _DATA_SUFFIX.search(key)
    return key[: found.start()] if found else None


@contextlib.contextmanager
def _measured(first: bytes, fileobj: BinaryIO) -> Iterator[tuple[BinaryIO, int, str]]:
    """(a file positioned at first, size, sha256) of first + the rest of fileobj.

    A seekable file is hashed in place and rewound; any other is copied to a
    temporary file on the way.
    """
    digest = hashlib.sha256(first)
    size = len(first)
    seekable = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        seekable = fileobj.seekable()
    if seekable:
        start = fileobj.tell() - len(first)
        while piece := fileobj.read(COMPARE_CHUNK):
            digest.update(piece)
            size += len(piece)
        fileobj.seek(start)
        yield fileobj, size, digest.hexdigest()
        return
    with tempfile.TemporaryFile(prefix="utakata-upload-") as spool:
        spool.write(first)
        while piece := fileobj.read(COMPARE_CHUNK):
            digest.update(piece)
            size += len(piece)
            spool.write(piece)
        spool.seek(0)
        yield spool, size, digest.hexdigest()


class _Stream(io.RawIOBase):
    """A GetObject body as a file: read(n) in pieces, botocore errors translated."""

    def __init__(self, body, translate) -> None:
        super().__init__()
        self._body = body
        self._translate = translate

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        try:
            return self._body.read() if size is None or size < 0 else self._body.read(size)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc) from exc

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _option(options: dict, name: str, default, kind):
    raw = options.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"S3 log option {name}={raw!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise ImproperlyConfigured(f"S3 log option {name}={raw!r} must be positive")
    return value


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _conditional_outcome(exc: ClientError) -> str | None:
    """'taken' for 412 PreconditionFailed, 'conflict' for 409 ConditionalRequestConflict, else None."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = _code(exc)
    if code == "PreconditionFailed" or status == 412:
        return "taken"
    if code == "ConditionalRequestConflict":
        return "conflict"
    return None


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _read_full(fileobj: BinaryIO, size: int) -> bytes:
    """Read size bytes, fewer only at end of file (raw streams may return short reads)."""
    pieces = []
    remaining = size
    while remaining > 0:
        piece = fileobj.read(remaining)
        if not piece:
            break
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def _sha256_of(body, limit: int) -> str:
    digest = hashlib.sha256()
    seen = 0
    while piece := body.read(COMPARE_CHUNK):
        seen += len(piece)
        if seen > limit:
            return ""
        digest.update(piece)
    return digest.hexdigest()
