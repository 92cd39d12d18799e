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

Large objects (create_from_file, from multipart_chunksize up) are uploaded
as content-named data and then claimed by a small conditional PUT
(board/log/s3data.py); open(), read(), list(), delete() and replace() follow
claims to their data.

The probe (board/log/s3probe.py) refuses every write on an endpoint that
would let a conditional PUT overwrite an object.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured

from board.lib.backends import option, refuse_unknown
from board.log.base import (
    AlreadyExists,
    Archived,
    BaseLog,
    LogError,
    LogUnavailable,
    NotFound,
    ObjectInfo,
)
from board.log.s3data import (
    DATA_SEP,
    MIN_PART_SIZE,
    ClaimedData,
    DataGone,
    logical_key,
)
from board.log.s3errors import TRANSIENT_CODES, UNSENT_ERRORS, translate, where
from board.log.s3probe import PROBE_DIR, ConditionalWritesProbe
from board.log.s3wire import conditional_outcome, content_md5, error_code, read_full

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_CHUNKSIZE = 16 * MiB
DELETE_BATCH = 1000
# first(): the first key and the next, which says whether the first is a claim with data (listed right after it).
FIRST_PAGE_SIZE = 2


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


class S3Log(ClaimedData, ConditionalWritesProbe, BaseLog):
    """The durable log in an S3 bucket, through boto3 (one client per instance)."""

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        bucket, _, prefix = location.strip("/").partition("/")
        if not bucket:
            raise ImproperlyConfigured(f"S3 log location {location!r} names no bucket (s3://bucket/prefix)")
        refuse_unknown(self.options, KNOWN_OPTIONS, "S3 log")
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
        self.multipart_chunksize = option(self.options, "multipart_chunksize", DEFAULT_CHUNKSIZE, int, "S3 log")
        if self.multipart_chunksize < MIN_PART_SIZE:
            raise ImproperlyConfigured(
                f"S3 log: multipart_chunksize={self.multipart_chunksize} is below S3's {MIN_PART_SIZE}-byte minimum"
            )
        self.config = Config(
            connect_timeout=option(self.options, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, float, "S3 log"),
            read_timeout=option(self.options, "read_timeout", DEFAULT_READ_TIMEOUT, float, "S3 log"),
            retries={
                "mode": "standard",
                # botocore's own "max_attempts" counts retries only; ours counts the first try too.
                "total_max_attempts": option(self.options, "max_attempts", DEFAULT_MAX_ATTEMPTS, int, "S3 log"),
            },
            s3={"addressing_style": addressing_style},
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        )
        # A session of our own: boto3's default session is not safe to share
        # between threads while clients are being made.
        session = boto3.session.Session()
        try:
            self._client = session.client("s3", endpoint_url=endpoint_url, region_name=region_name, config=self.config)
        except ValueError as exc:  # botocore's "Invalid endpoint" names neither the setting nor the form
            raise ImproperlyConfigured(
                f"S3 log: endpoint_url={endpoint_url!r} is not a URL like http://minio:9000 "
                f"(UTAKATA_S3_ENDPOINT_URL): {exc}"
            ) from None
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
        return where(self.bucket, self.prefix, key)

    def _error(self, exc: Exception, doing: str, key: str) -> LogError:
        """Translate a botocore failure into the log's vocabulary."""
        return translate(exc, doing, key, self.endpoint, self.bucket, self.prefix)

    def _call(self, doing: str, key: str, method: str, **kwargs: Any) -> dict:
        try:
            return getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, doing, key) from exc

    # --- writes --------------------------------------------------------------

    def create(self, key: str, data: bytes) -> None:
        data = bytes(data)
        full = self._full(key)
        self.check_conditional_writes()
        self._attempts.delivered = False
        for _ in range(3):
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*", ContentMD5=content_md5(data)
                )
                return
            except ClientError as exc:
                outcome = conditional_outcome(exc)
                if outcome is None:
                    raise self._error(exc, "writing", key) from exc
                holds = self._holds(key, lambda body: read_full(body, len(data) + 1) == data)
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
            if error_code(exc) in {"NoSuchKey", "404"}:
                raise DataGone(f"{self._where(key)} is claimed but its data {self._where(data_key)} is gone") from exc
            raise self._error(exc, doing, data_key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, doing, data_key) from exc

    def _holds(self, key: str, same, size: int | None = None) -> bool | None:
        """Whether the object at key passes same(body): None if there is none."""
        try:
            answer, _ = self._get(key, "reading back")
        except DataGone:
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
        self._call("writing", key, "put_object", Key=self._full(key), Body=data, ContentMD5=content_md5(data))
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
        self._full(key)
        return self._head_answer(key) is not None

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        return self._list(prefix, start_after)

    def first(self, prefix: str) -> ObjectInfo | None:
        # Pages of a few keys, not S3's 1000: whether a thread has a claim must not fetch all of them.
        return next(self._list(prefix, page_size=FIRST_PAGE_SIZE), None)

    def _list(self, prefix: str, start_after: str = "", page_size: int | None = None) -> Iterator[ObjectInfo]:
        # A claim is held back until the keys that start with it have gone by
        # (they are listed right after it, its data among them), then reported
        # with its data's size and storage class.
        held: deque[ObjectInfo] = deque()
        data: dict[str, list[ObjectInfo]] = {}
        for info in self._raw_list(prefix, start_after, page_size):
            while held and not info.key.startswith(held[0].key):
                yield self._settled(held.popleft(), data)
            logical = logical_key(info.key)
            if logical is not None:
                if any(h.key == logical for h in held):
                    data.setdefault(logical, []).append(info)
                continue  # never a log object of its own
            if info.key.startswith(PROBE_DIR):
                continue
            held.append(info)
        while held:
            yield self._settled(held.popleft(), data)

    def _raw_list(self, prefix: str, start_after: str = "", page_size: int | None = None) -> Iterator[ObjectInfo]:
        """Every object under prefix as S3 lists it, data objects and probes included, a page fetched as needed."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after:
            kwargs["StartAfter"] = self.prefix + start_after
        if page_size:
            kwargs["PaginationConfig"] = {"PageSize": page_size}
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
