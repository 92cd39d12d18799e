"""The 2ch protocol's endpoints. Thin: formats in board.formats, dat reads in datfile, writes in board.posting."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from ulid import ULID

from board.boards import NAME_RE
from board.formats.bbsmenu import MenuBoard, bbsmenu_html, bbsmenu_json
from board.formats.dat import encode
from board.formats.setting import head_txt, setting_txt
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from board.twoch import bbscgi, conditional, datfile
from board.twoch.datserve import serve_dat
from board.web import readyourwrites
from board.web.client import client_address

logger = logging.getLogger(__name__)

SITE = "うたかた"
TEXT = "text/plain; charset=Shift_JIS"
HTML = "text/html; charset=Shift_JIS"


def _board_or_404(name: str) -> tuple[dict, int]:
    """The board's settings and when they were last set (ms)."""
    found = datfile.board_settings(get_store(), name)
    if found is None:
        raise Http404("該当する板は存在しません。")
    settings, event = found
    return settings, ULID.from_str(event).milliseconds


@require_safe
def subject(request: HttpRequest, board: str) -> HttpResponse:
    """The live list's stored bytes: nothing is formatted here."""
    _, changed = _board_or_404(board)
    listing = queries.live_list(get_store(), board)
    # Any post, deletion or fall changes the list; so does a setting (the stop line counts).
    return conditional.whole_file(request, listing.subject, TEXT, max(listing.updated, changed))


@require_safe
def setting(request: HttpRequest, board: str) -> HttpResponse:
    settings, changed = _board_or_404(board)
    return conditional.whole_file(request, setting_txt(settings), TEXT, changed)


@require_safe
def head(request: HttpRequest, board: str) -> HttpResponse:
    """The board's local rules, which clients show as its ローカルルール (empty if it has none)."""
    settings, changed = _board_or_404(board)
    return conditional.whole_file(request, head_txt(settings), HTML, changed)


@require_safe
def dat(request: HttpRequest, board: str, key: str) -> HttpResponse:
    store = get_store()
    found = datfile.open_dat(store, board, key)
    posted = readyourwrites.pending_number(request, board, key)
    if posted and (found is None or found.lines < posted):
        # This client just posted here and the workers have not applied it yet.
        readyourwrites.catch_up(board, key, found.lines if found else 0, posted)
        found = datfile.open_dat(store, board, key)
    if found is None:
        raise Http404("そんな板orスレッドないです。")
    if found.archived:
        # dat落ち: the file moved to the archive, as on 2ch.
        return HttpResponsePermanentRedirect(reverse("twoch:kako", args=(board, key[:4], key[:5], key)))
    return serve_dat(request, store, found)


@require_safe
def kako(request: HttpRequest, board: str, k4: str, k5: str, key: str) -> HttpResponse:
    store = get_store()
    found = datfile.open_dat(store, board, key)
    if found is None or not found.archived or (k4, k5) != (key[:4], key[:5]):
        raise Http404("過去ログ倉庫にありません。")
    return serve_dat(request, store, found)


def _menu(request: HttpRequest) -> tuple[list[MenuBoard], str, int]:
    """The boards, the site's URL, and when the list last changed (ms)."""
    index = queries.board_index(get_store())
    boards = [MenuBoard(name, entry["title"]) for name, entry in sorted(index["boards"].items())]
    changed = max((ULID.from_str(e["event"]).milliseconds for e in index["boards"].values()), default=0)
    return boards, request.build_absolute_uri("/"), changed


@require_safe
def menu_html(request: HttpRequest) -> HttpResponse:
    boards, base, changed = _menu(request)
    return conditional.whole_file(request, bbsmenu_html(boards, base, SITE), HTML, changed)


@require_safe
def menu_json(request: HttpRequest) -> HttpResponse:
    boards, base, changed = _menu(request)
    return conditional.whole_file(request, bbsmenu_json(boards, base, SITE, changed), "application/json", changed)


# Dedicated browsers post here without a CSRF token: they never loaded a form
# to take one from, and the 2ch protocol has no field for it. But a post made
# by another site through a visitor's browser would carry the visitor's
# address, and so their ID, cooldown and bans: browsers say where a cross-site
# POST comes from (Origin, Sec-Fetch-Site), dedicated browsers send none or
# the board's own, and a foreign one is refused.
@csrf_exempt
@require_POST
def bbs_cgi(request: HttpRequest) -> HttpResponse:
    """Post a reply (``key`` given) or a new thread (``subject`` given) for a 2ch client."""
    charset = bbscgi.SHIFT_JIS
    try:
        charset = bbscgi.form_charset(request.META.get("CONTENT_TYPE", ""))
        if bbscgi.foreign(request):
            raise bbscgi.FormError(r.FOREIGN_ORIGIN)
        bbscgi.check_form_type(request.content_type)
        try:
            body = request.body
        except RequestDataTooBig:
            raise bbscgi.FormError(r.TOO_BIG) from None
        form = bbscgi.parse_form(body, charset)
    except bbscgi.FormError as exc:
        return _page("twoch/error.html", {"message": str(exc), "board": ""}, charset)
    board, key = form.get("bbs", ""), form.get("key", "") or None
    if not NAME_RE.match(board):
        return _page("twoch/error.html", {"message": r.NO_BOARD, "board": ""}, charset)
    if key is not None and not (key.isascii() and key.isdigit()):
        return _page("twoch/error.html", {"message": r.NO_THREAD, "board": board}, charset)
    text = {f: bbscgi.unescape_references(form.get(f, "")) for f in ("FROM", "mail", "MESSAGE", "subject")}
    sub = Submission(
        name=text["FROM"],
        mail=text["mail"],
        body=text["MESSAGE"],
        subject=text["subject"],
        client_time=form.get("time", "")[:32],
    )
    try:
        posted = submit(board, key, sub, client_address(request))
    except Refused as refusal:
        message = bbscgi.flood_message(refusal.wait_seconds) if refusal.wait_seconds else refusal.message
        context = {"message": message, "board": board, "maybe_written": refusal.maybe_written}
        return _page("twoch/error.html", context, charset)
    context = {"board": posted.board, "key": posted.thread, "number": posted.number}
    response = _page("twoch/posted.html", context, charset)
    # The workers apply the post; the dat this client fetches next catches up from the log
    # if they have not yet (the post is applied once, not here and again in a worker).
    readyourwrites.remember(response, posted.board, posted.thread, posted.number)
    return response


def _page(template: str, context: dict, charset: str) -> HttpResponse:
    """A bbs.cgi answer: always 200, in the charset the client posted in."""
    label = "UTF-8" if charset == bbscgi.UTF8 else "Shift_JIS"
    html = render_to_string(template, {**context, "charset": label})
    data = html.encode(charset, errors="xmlcharrefreplace") if charset == bbscgi.UTF8 else encode(html)
    return HttpResponse(data, content_type=f"text/html; charset={label}")
