"""The pages for HTTP errors (Django's handler400, handler403 and handler404, the 411 of
RequireLength, the 405 of ExplainNotAllowed, and gunicorn's refusals of requests it
could not read), in the board's language.

Each says why, in words a reader can act on, and none says anything about a
post: a 404 or 403 can answer a form, and whether its post was saved is for
the posting views to say, which know. The 500 page is templates/500.html,
rendered by Django's own handler: it must not depend on anything that may
be what failed.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

NOT_FOUND = "お探しのページは見つかりませんでした。アドレスをお確かめください。"
BAD_REQUEST = "リクエストの形式が正しくないため、処理できませんでした。"
FORBIDDEN = "このページを表示する権限がありません。"
LENGTH_REQUIRED = "送信の長さ（Content-Length）が指定されていないため、受け付けられませんでした。"
NOT_ALLOWED = "このアドレスは {method} では使えません。使える方法: {allowed}"
URI_TOO_LONG = "アドレスが長すぎるため、処理できませんでした。"
HEADERS_TOO_LARGE = (
    "リクエストのヘッダーが大きすぎるか多すぎるため、処理できませんでした。"
    "Cookie を削除すると表示できることがあります。"
)
EXPECTATION_FAILED = "Expect ヘッダーで求められた動作には応じられないため、処理できませんでした。"
CODING_NOT_TAKEN = "この送り方（Transfer-Encoding）には対応していないため、受け付けられませんでした。"

# What gunicorn refuses before Django reads the request (board/ops/refusals.py), by
# the status gunicorn answers; any other 4xx is said as a 400, a 5xx as the 500 page.
UNREAD = {
    400: ("不正なリクエスト", BAD_REQUEST),
    403: ("権限がありません", FORBIDDEN),
    414: ("アドレスが長すぎます", URI_TOO_LONG),
    417: ("応じられない要求です", EXPECTATION_FAILED),
    431: ("ヘッダーが大きすぎます", HEADERS_TOO_LARGE),
    501: ("対応していない送り方です", CODING_NOT_TAKEN),
}


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: the reason the view gave (the board's views give it in Japanese), else that nothing is at this address."""
    return _page(request, 404, "ページが見つかりません", _reason(exception) or NOT_FOUND)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400: a request Django refused before any view (a Host not served, a malformed body)."""
    return _page(request, 400, "不正なリクエスト", BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: the reason the view gave, else that the page is not for this visitor."""
    return _page(request, 403, "権限がありません", _reason(exception) or FORBIDDEN)


def unread_page(status: int, detail: str) -> str:
    """The page for a request gunicorn refused unread: why in Japanese, and ``detail``, gunicorn's own words.

    A 500 there is an application that raised through gunicorn: the 500 page,
    which claims nothing about a post.
    """
    if status >= 500 and status not in UNREAD:
        return render_to_string("500.html")
    title, message = UNREAD.get(status, UNREAD[400])
    return render_to_string("board/http_error.html", {"title": title, "message": message, "detail": detail})


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
