"""The forms' CSRF token, minted cheaply, is Django's token: the middleware accepts it and nothing else."""

from __future__ import annotations

from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CsrfViewMiddleware, _unmask_cipher_token
from django.test import RequestFactory

from board.web.csrftoken import get_token

factory = RequestFactory()


def checked(request) -> HttpResponse | None:
    """What CsrfViewMiddleware answers to the request before the view: None lets it through."""
    middleware = CsrfViewMiddleware(lambda r: HttpResponse("ok"))
    middleware.process_request(request)
    return middleware.process_view(request, lambda r: HttpResponse("ok"), (), {})


def minted_for_a_reader_without_cookie() -> tuple[str, str]:
    """(the form's token, the cookie the middleware sends with the page)."""
    page = factory.get("/")
    middleware = CsrfViewMiddleware(lambda r: HttpResponse("ok"))
    middleware.process_request(page)
    token = get_token(page)
    response = middleware.process_response(page, HttpResponse("page"))
    return token, response.cookies["csrftoken"].value


def test_a_reader_without_cookie_gets_a_new_secret_and_a_masked_token() -> None:
    token, cookie = minted_for_a_reader_without_cookie()
    assert len(cookie) == 32 and len(token) == 64
    assert _unmask_cipher_token(token) == cookie
    assert set(token + cookie) <= set(CSRF_ALLOWED_CHARS)


def test_a_post_with_the_token_and_its_cookie_is_let_through() -> None:
    token, cookie = minted_for_a_reader_without_cookie()
    post = factory.post("/test/post", {"csrfmiddlewaretoken": token})
    post.COOKIES["csrftoken"] = cookie
    assert checked(post) is None


def test_a_token_under_another_readers_cookie_is_refused() -> None:
    token, _ = minted_for_a_reader_without_cookie()
    _, other = minted_for_a_reader_without_cookie()
    post = factory.post("/test/post", {"csrfmiddlewaretoken": token})
    post.COOKIES["csrftoken"] = other
    assert checked(post).status_code == 403


def test_a_reader_with_a_cookie_keeps_its_secret_under_a_fresh_mask() -> None:
    _, cookie = minted_for_a_reader_without_cookie()
    page = factory.get("/")
    page.COOKIES["csrftoken"] = cookie
    CsrfViewMiddleware(lambda r: HttpResponse("ok")).process_request(page)
    first, second = get_token(page), get_token(page)
    assert first != second
    assert _unmask_cipher_token(first) == _unmask_cipher_token(second) == cookie
    assert page.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_every_allowed_character_is_drawn() -> None:
    drawn = "".join(minted_for_a_reader_without_cookie()[1] for _ in range(200))
    assert set(drawn) == set(CSRF_ALLOWED_CHARS)
