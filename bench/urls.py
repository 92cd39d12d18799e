"""The board's urls plus the benchmarks' baselines, served by the same server through the same middleware.

- ``bench/minimal``: "ok", the least a Django view can answer;
- ``bench/bytes/<n>.html`` and ``bench/bytes/<n>.txt``: n bytes held in
  memory (built on the first request for that n, then kept in the process),
  as text/html or as text/plain in Shift_JIS like a dat or subject.txt. A
  page that answers from stored bytes cannot beat this view returning as
  many bytes.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from boards_site import urls as site

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "txt": "text/plain; charset=Shift_JIS"}
# One line of ASCII repeated: the bytes' content does not matter (nothing compresses them).
PATTERN = b"<p>utakata bench: the same number of bytes, held in memory</p>\n"

_bodies: dict[int, bytes] = {}


def minimal(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def body_of(size: int) -> bytes:
    body = _bodies.get(size)
    if body is None:
        body = (PATTERN * (size // len(PATTERN) + 1))[:size]
        _bodies[size] = body
    return body


def same_bytes_html(request: HttpRequest, size: int) -> HttpResponse:
    return HttpResponse(body_of(size), content_type=CONTENT_TYPES["html"])


def same_bytes_text(request: HttpRequest, size: int) -> HttpResponse:
    return HttpResponse(body_of(size), content_type=CONTENT_TYPES["txt"])


urlpatterns = [
    path("bench/minimal", minimal),
    path("bench/bytes/<int:size>.html", same_bytes_html),
    path("bench/bytes/<int:size>.txt", same_bytes_text),
    # The site's own patterns, not an include of them: a board's path is resolved at the depth it has
    # in production, so the baselines' ratios do not charge it an include level it does not pay there.
    *site.urlpatterns,
]
handler400, handler403, handler404 = site.handler400, site.handler403, site.handler404
