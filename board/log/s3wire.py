"""What the S3 log's requests and answers need on the wire: error codes, conditional outcomes, Content-MD5."""

from __future__ import annotations

import base64
import hashlib
from typing import BinaryIO

from botocore.exceptions import ClientError


def error_code(exc: ClientError) -> str:
    """The S3 error code of a refused request ("NoSuchKey", "PreconditionFailed", ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def conditional_outcome(exc: ClientError) -> str | None:
    """'taken' for 412 PreconditionFailed, 'conflict' for 409 ConditionalRequestConflict, else None."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = error_code(exc)
    if code == "PreconditionFailed" or status == 412:
        return "taken"
    if code == "ConditionalRequestConflict":
        return "conflict"
    return None


def content_md5(data: bytes) -> str:
    """The Content-MD5 header of a body: S3 refuses a body that arrives different."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def read_full(fileobj: BinaryIO, size: int) -> bytes:
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
