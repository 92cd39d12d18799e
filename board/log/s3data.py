"""Large objects in the S3 log: content-named data, claimed by a small conditional PUT.

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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from board.log.base import AlreadyExists, LogError, LogUnavailable, NotFound, ObjectInfo
from board.log.s3wire import conditional_outcome, content_md5, error_code, read_full

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
COMPARE_CHUNK = 1 * MiB

# A large object's data sits at <key>~data~<first 32 hex digits of its sha256>.
DATA_SEP = "~data~"
_DATA_SUFFIX = re.compile(r"~data~[0-9a-f]{32}\Z")
CLAIM_META = "utakata-data"  # x-amz-meta-utakata-data: the data object's suffix
SIZE_META = "utakata-size"
SHA_META = "utakata-sha256"
# A claim's own body is under 200 bytes: a listed object larger than this is never a claim.
CLAIM_MAX_SIZE = 4096
# delete() lists the range of a batch's keys for their data, unless it holds this many more keys than the batch.
SPAN_SLACK = 1000


class ClaimedData:
    """S3Log's large objects and what follows their claims (a mixin: it uses S3Log's client and helpers)."""

    def create_from_file(self, key: str, fileobj: BinaryIO) -> None:
        """A small file is one conditional put; a large one goes up as data, then is claimed.

        The data is hashed first (its name is its content), so that a second
        writer of the same bytes, the usual retry, finds them claimed
        already and uploads nothing.
        """
        self._full(key)
        first = read_full(fileobj, self.multipart_chunksize)
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
            while piece := read_full(source, chunksize):
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
                    ContentMD5=content_md5(piece),
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
                    ContentMD5=content_md5(body),
                    Metadata=meta,
                )
                return
            except ClientError as exc:
                # Any other refusal leaves the data: a retried PUT may have landed
                # before it; the same bytes written again reuse it.
                if conditional_outcome(exc) is None:
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

    def _head_answer(self, key: str) -> dict | None:
        """HeadObject's answer for key; None if nothing is there."""
        try:
            return self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "NotFound", "404"}:
                return None
            raise self._error(exc, "looking up", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "looking up", key) from exc

    def _head(self, key: str) -> _Head | None:
        """What is stored at key, without its body; None if nothing."""
        answer = self._head_answer(key)
        if answer is None:
            return None
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
            if logical_key(info.key) in names:
                found.append(info.key)
            if scanned > budget:
                return [info.key for key in wanted for info in self._raw_list(key + DATA_SEP)]
        return found

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
            logical = logical_key(info.key)
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


class DataGone(NotFound):
    """A claim whose data object is missing: the key is taken, its bytes are lost."""


@dataclass(frozen=True, slots=True)
class _Head:
    """What a HEAD of a key says: its own size, and the claim's data suffix, size and sha256 if it is one."""

    size: int
    suffix: str | None
    claimed_size: int | None
    sha256: str | None


def logical_key(key: str) -> str | None:
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


def _sha256_of(body, limit: int) -> str:
    digest = hashlib.sha256()
    seen = 0
    while piece := body.read(COMPARE_CHUNK):
        seen += len(piece)
        if seen > limit:
            return ""
        digest.update(piece)
    return digest.hexdigest()
