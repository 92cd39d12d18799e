"""The board's urls plus a minimal view: the reading benchmark's baseline, served by the same server."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def minimal(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("bench/minimal", minimal),
    path("", include("boards_site.urls")),
]
