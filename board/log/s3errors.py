"""The S3 log's failures in the log's vocabulary: gone, archived, refused, unavailable, or an error."""

from __future__ import annotations

from botocore.exceptions import (
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

from board.log.base import Archived, LogError, LogUnavailable, NotFound

# Failures to connect: the request never left this machine, so it cannot land later.
UNSENT_ERRORS = (EndpointConnectionError, ConnectTimeoutError)
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


def where(bucket: str, prefix: str, key: str) -> str:
    """The object's address as messages give it: ``s3://bucket/prefix/key``."""
    return f"s3://{bucket}/{prefix}{key}"


def translate(exc: Exception, doing: str, key: str, endpoint: str, bucket: str, prefix: str) -> LogError:
    """The LogError a botocore failure of ``doing`` key means, saying what an operator can do about it."""
    at = where(bucket, prefix, key)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = error.get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code == "NoSuchBucket":
            return LogError(f"S3 bucket {bucket!r} does not exist at {endpoint}: create it or fix UTAKATA_LOG_URL")
        if code in {"NoSuchKey", "NotFound", "404"}:
            return NotFound(f"no object at {at}")
        if code == "InvalidObjectState":
            storage_class = error.get("StorageClass") or "GLACIER"
            return Archived(archived_message(endpoint, bucket, prefix, key, storage_class))
        if code in ACCESS_CODES or status == 403:
            return LogError(
                f"S3 at {endpoint} refused {doing} {at} ({code}: {message}); "
                "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket policy"
            )
        if status >= 500 or code in TRANSIENT_CODES:
            return LogUnavailable(f"S3 endpoint {endpoint} failed while {doing} {at}: {code} ({status}) {message}")
        return LogError(f"S3 at {endpoint} failed {doing} {at}: {code} ({status}) {message}")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
        # ConnectionClosedError, ResponseStreamingError, SSLError, ...
        return LogUnavailable(f"S3 endpoint {endpoint} unreachable while {doing} {at}: {exc}")
    if isinstance(exc, FlexibleChecksumError | ChecksumError):
        return LogUnavailable(
            f"S3 endpoint {endpoint}: checksum mismatch while {doing} {at} (corrupted in transit): {exc}"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return LogError(f"S3 log: no usable credentials for {endpoint}: {exc}")
    return LogError(f"S3 log: {doing} {at} failed: {exc}")


def archived_message(endpoint: str, bucket: str, prefix: str, key: str, storage_class: str) -> str:
    """Why an archived object cannot be read, and the commands that restore it."""
    option = "" if endpoint.endswith(".amazonaws.com") else f" --endpoint-url {endpoint}"
    return (
        f"{where(bucket, prefix, key)} is in storage class {storage_class} and must be restored before it "
        f"can be read: aws s3api restore-object{option} --bucket {bucket} "
        f"--key {prefix}{key} --restore-request Days=7,GlacierJobParameters={{Tier=Standard}} "
        f'then wait until head-object shows Restore: ongoing-request="false" (hours for '
        f"{storage_class}) and read it again"
    )
