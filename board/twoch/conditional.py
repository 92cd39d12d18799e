"""HTTP validators and byte ranges, so that dats behave like the static files clients expect.

2ch served dats as static files from Apache, and clients poll them with
``If-Modified-Since`` plus ``Range: bytes=N-``; this module answers those the
way such a server does (RFC 9110, 13 and 14), with one care a file server does
not take: HTTP dates have whole seconds, posts do not.

Last-Modified and the post-in-the-same-second problem: a client that fetched
at 12:00:00.3 and is told ``Last-Modified: 12:00:00`` would, asking again with
``If-Modified-Since: 12:00:00``, be answered 304 and miss a post made at
12:00:00.7. So "modified since" is judged in milliseconds (the post's time is
after 12:00:00.000, so it was modified), and the date handed out is the second
*after* the last change only once that change has settled (``SETTLE_MS``): by
then no post with a time inside that second can still be on its way through
the fan-out. Before that the date is the second of the change, which makes the
next conditional request fetch (cheaply, by Range) rather than wrongly 304.
ETags are exact (they name the bytes), so If-None-Match needs no such care.

Request headers are read from ``request.META``: ``request.headers`` builds a
mapping of every header on first use, a measurable part of answering a poll.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date, parse_http_date_safe

# Longer than the fan-out takes to apply a post in all but an outage.
SETTLE_MS = 60_000

# 18 digits are past any file size; a longer number is no range we serve (and int() of
# thousands of digits raises), so such a header is ignored and the whole file sent.
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*$", re.IGNORECASE | re.ASCII)
_ETAG_RE = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')


class Unsatisfiable:
    """A Range that starts at or past the end: answered 416 with ``bytes */size``."""


UNSATISFIABLE = Unsatisfiable()


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range


def now_ms() -> int:
    return int(time.time() * 1000)


def content_etag(data: bytes) -> str:
    """A strong ETag naming exactly these bytes."""
    return '"' + hashlib.sha1(data).hexdigest()[:20] + '"'


def last_modified_seconds(updated_ms: int, at_ms: int) -> int:
    """The Last-Modified to hand out at ``at_ms`` for content last changed at ``updated_ms``."""
    floor = updated_ms // 1000
    if at_ms - updated_ms >= SETTLE_MS and updated_ms % 1000:
        return floor + 1
    return floor


def modified_since(updated_ms: int, header: str) -> bool | None:
    """Whether content changed after the If-Modified-Since date; None if the date is unreadable."""
    since = parse_http_date_safe(header)
    if since is None:
        return None
    return updated_ms > since * 1000


def etag_listed(header: str, etag: str) -> bool:
    """Whether If-None-Match lists etag (weak comparison, as RFC 9110 asks for it)."""
    if header.strip() == "*":
        return True
    return etag in _ETAG_RE.findall(header)


def not_modified(request: HttpRequest, etags: tuple[str, ...], updated_ms: int | None) -> bool:
    """The 304 decision: If-None-Match when sent (it overrides the date), else If-Modified-Since."""
    none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if none_match is not None:
        return any(etag_listed(none_match, etag) for etag in etags)
    since = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if since is None or updated_ms is None:
        return False
    return modified_since(updated_ms, since) is False


def byte_range(request: HttpRequest, size: int, etag: str, updated_ms: int) -> ByteRange | Unsatisfiable | None:
    """The one byte range asked for, UNSATISFIABLE, or None to send everything.

    Forms other than one ``bytes=`` range (several ranges, other units,
    garbage) are ignored, as RFC 9110 allows: the answer is then the whole
    file. So is a Range whose If-Range names another version.
    """
    header = request.META.get("HTTP_RANGE")
    if header is None:
        return None
    if_range = request.META.get("HTTP_IF_RANGE")
    if if_range is not None and not _if_range_holds(if_range.strip(), etag, updated_ms):
        return None
    m = _RANGE_RE.match(header)
    if m is None or (not m[1] and not m[2]):
        return None
    if not m[1]:  # bytes=-N: the last N bytes
        length = int(m[2])
        if length == 0:
            return UNSATISFIABLE
        return ByteRange(max(size - length, 0), size - 1)
    start = int(m[1])
    if m[2] and int(m[2]) < start:
        return None  # not a valid range: ignored
    if start >= size:
        return UNSATISFIABLE
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    return ByteRange(start, end)


def _if_range_holds(value: str, etag: str, updated_ms: int) -> bool:
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # If-Range compares strongly
    return modified_since(updated_ms, value) is False


def accepts_gzip(request: HttpRequest) -> bool:
    """Whether Accept-Encoding allows gzip (and does not give it q=0)."""
    for item in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _is_zero(q[2:]))
    return False


def _is_zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False


def gzip_etag(etag: str) -> str:
    """The ETag of the gzipped representation: a different byte sequence, so a different strong tag."""
    return etag[:-1] + '-gzip"'


@lru_cache(maxsize=256)
def _http_date(seconds: int) -> str:
    return http_date(seconds)


def set_validators(response: HttpResponse, etag: str, updated_ms: int | None) -> None:
    response["ETag"] = etag
    if updated_ms is not None:
        # A polled dat hands out the same date over and over: formatted once.
        response["Last-Modified"] = _http_date(last_modified_seconds(updated_ms, now_ms()))
    # Caches must ask again each time: the dat changes under the same URL, and a 304 is cheap.
    response["Cache-Control"] = "no-cache"


def whole_file(request: HttpRequest, body: bytes, content_type: str, updated_ms: int | None = None) -> HttpResponse:
    """A small generated file (subject.txt, SETTING.TXT, bbsmenu) with validators and optional gzip."""
    etag = content_etag(body)
    if not_modified(request, (etag, gzip_etag(etag)), updated_ms):
        response = HttpResponse(status=304)
        set_validators(response, etag, updated_ms)
        return response
    response = HttpResponse(content_type=content_type)
    response["Vary"] = "Accept-Encoding"
    if accepts_gzip(request):
        body = gzip.compress(body, mtime=0)
        response["Content-Encoding"] = "gzip"
        etag = gzip_etag(etag)
    set_validators(response, etag, updated_ms)
    response["Content-Length"] = str(len(body))
    if request.method != "HEAD":
        response.content = body
    return response
