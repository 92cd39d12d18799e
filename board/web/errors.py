"""The pages for HTTP errors (Django's handler400, handler403 and handler404, the 411 of
RequireLength and the 405 of ExplainNotAllowed), in the board's language.

Each says why, in words a reader can act on, and none says anything about a
post: a 404 or 403 can answer a form, and whether its post was saved is for
the posting views to say, which know. The 500 page is templates/500.html,
rendered by Django's own handler: it must not depend on anything that may
be what failed.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

NOT_FOUND = "お探しのページは見つかりませんでした。アドレスをお確かめください。"
BAD_REQUEST = "リクエストの形式が正しくないため、処理できませんでした。"
FORBIDDEN = "このページを表示する権限がありません。"
LENGTH_REQUIRED = "送信の長さ（Content-Length）が指定されていないため、受け付けられませんでした。"
NOT_ALLOWED = "このアドレスは {method} では使えません。使える方法: {allowed}"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: the reason the view gave (the board's views give it in Japanese), else that nothing is at this address."""
    return _page(request, 404, "ページが見つかりません", _reason(exception) or NOT_FOUND)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400: a request Django refused before any view (a Host not served, a malformed body)."""
    return _page(request, 400, "不正なリクエスト", BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: the reason the view gave, else that the page is not for this visitor."""
    return _page(request, 403, "権限がありません", _reason(exception) or FORBIDDEN)


def _reason(exception: Exception) -> str:
    # A URL nothing matched raises Resolver404 with a dict of what was tried: not a reason to show.
    reason = exception.args[0] if exception.args else ""
    return reason if isinstance(reason, str) else ""


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "board/http_error.html", {"title": title, "message": message}, status=status)


class RequireLength:
    """Middleware: a request whose body comes without a Content-Length (chunked) is answered 411.

    Django reads a body by its Content-Length only: a chunked one would reach
    the view empty and be refused for a reason that is not true (no such
    board, an expired form). Behind the deploy's nginx, which buffers bodies
    and sends their length, none arrives.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            return _page(request, 411, "長さが必要です", LENGTH_REQUIRED)
        return self.get_response(request)


class ExplainNotAllowed:
    """Middleware: a 405 says which methods the address takes.

    Django's method decorators answer 405 with an empty body: a browser that
    opened bbs.cgi's address, say, showed a blank page.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        allowed = response.get("Allow", "")
        page = _page(request, 405, "使えない送り方です", NOT_ALLOWED.format(method=request.method, allowed=allowed))
        page["Allow"] = allowed
        return page
