"""Answering a dat request the way a static file server would: 304, 416, 206 or 200.

The order is the static file's: validators first (a 304 never looks at
Range), then the range, and only then the bytes, read from the store.

A 304 is answered from the thread's index alone, the cheapest answer to the
commonest poll. The index can lag its pages for the moment between two
writes (or until a crashed apply is redelivered); every answer that reads
pages (200, 206, and the 416 that says there is nothing new) checks them and
repairs the index, so a lagging index is noticed by the next such request.
"""

from __future__ import annotations

import gzip

from django.http import HttpRequest, HttpResponse

from board.store import BaseStore
from board.twoch import conditional as c
from board.twoch import datfile
from board.twoch.datfile import Dat

DAT_CONTENT_TYPE = "text/plain; charset=Shift_JIS"
# A dat rebuilt under a request is judged again; past this, the thread is too busy changing.
ATTEMPTS = 3


def serve_dat(request: HttpRequest, store: BaseStore, dat: Dat) -> HttpResponse:
    """The response to GET or HEAD of a dat."""
    for _ in range(ATTEMPTS):
        if c.not_modified(request, (dat.etag, c.gzip_etag(dat.etag)), dat.updated):
            return _headers_only(dat, 304)
        wanted = c.byte_range(request, dat.size, dat.etag, dat.updated)
        if wanted is c.UNSATISFIABLE:
            # "Nothing new" must be true of the pages, not only of the index: check the last one.
            got, _ = datfile.read(store, dat, max(dat.size - 1, 0))
            if got != dat:
                dat = got
                continue
            response = _headers_only(dat, 416)
            response["Content-Range"] = f"bytes */{dat.size}"
            return response
        start = wanted.start if isinstance(wanted, c.ByteRange) else 0
        got, body = datfile.read(store, dat, start)
        if got == dat:
            return _with_body(request, dat, wanted, body)
        dat = got  # the index was behind the pages: judge the request again against what they hold
    response = HttpResponse("このスレッドは更新中です。しばらくしてから再度お試しください。\n", status=503)
    response["Retry-After"] = "1"
    return response


def _headers_only(dat: Dat, status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    c.set_validators(response, dat.etag, dat.updated)
    response["Accept-Ranges"] = "bytes"
    response["Vary"] = "Accept-Encoding"
    return response


def _with_body(request: HttpRequest, dat: Dat, wanted: c.ByteRange | None, body: bytes) -> HttpResponse:
    response = HttpResponse(content_type=DAT_CONTENT_TYPE)
    etag = dat.etag
    if wanted is not None:
        response.status_code = 206
        body = body[: wanted.end - wanted.start + 1]
        response["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{dat.size}"
    elif c.accepts_gzip(request):
        # Only a whole file is compressed: a range of gzip bytes could not be appended to a dat.
        body = gzip.compress(body, compresslevel=6, mtime=0)
        response["Content-Encoding"] = "gzip"
        etag = c.gzip_etag(etag)
    c.set_validators(response, etag, dat.updated)
    response["Accept-Ranges"] = "bytes"
    response["Vary"] = "Accept-Encoding"
    response["Content-Length"] = str(len(body))
    if request.method != "HEAD":
        response.content = body
    return response
