"""Siblings as Riak's HTTP API returns them: a multipart/mixed body, one part per sibling.

Riak writes each part as ``\\r\\n--BOUNDARY\\r\\n`` headers ``\\r\\n\\r\\n`` value,
and ends with ``\\r\\n--BOUNDARY--``. A part whose headers say
``X-Riak-Deleted: true`` is a tombstone: a delete concurrent with a write.
Values are bytes of any kind; the boundary is random per response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str]
    value: bytes

    @property
    def deleted(self) -> bool:
        return self.headers.get("x-riak-deleted", "").lower() == "true"


def boundary_of(content_type: str) -> str:
    found = _BOUNDARY_RE.search(content_type)
    if found is None:
        raise ValueError(f"multipart response without a boundary: {content_type!r}")
    return found.group(1)


def parse(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart/mixed body (headers lower-cased)."""
    delimiter = b"\r\n--" + boundary_of(content_type).encode("ascii")
    # Riak starts the body with the delimiter's CRLF; a leading one is optional by RFC 2046.
    data = body if body.startswith(b"\r\n") else b"\r\n" + body
    chunks = data.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, sep, value = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a header/body separator")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, text = line.partition(":")
            if colon:
                headers[name.strip().lower()] = text.strip()
        parts.append(Part(headers, value))
    return parts
