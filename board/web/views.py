"""Page views: thin; the reads are in board.readmodel, the write in board.posting.

Posts come from the store already rendered (board/readmodel/encoding.py): a
page is its template with the stored fragments spliced in as bytes.
"""

from __future__ import annotations

import re
import zlib
from urllib.parse import unquote_to_bytes

from django.conf import settings as site_settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_safe

from board.formats.ranges import parse_range
from board.log import LogError
from board.moderation import reports
from board.moderation.actions import ModerationError
from board.posting.commit import submit
from board.posting.refusals import BAD_ENCODING, WRONG_FORM_TYPE, Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.readmodel.encoding import raw_header
from board.store import get_store
from board.web import readyourwrites
from board.web.client import client_address
from board.web.splice import render_filled, render_spliced

# A page cursor: an archive window, the first digits of the thread keys it holds.
ARCHIVE_CURSOR_RE = re.compile(r"[0-9]{1,16}")
URLENCODED = "application/x-www-form-urlencoded"
FORM_TYPES = {URLENCODED, "multipart/form-data"}  # the bodies an HTML form sends


def _board_or_404(name: str) -> tuple[dict, str]:
    """The board's settings and the id of the event that last changed them."""
    found = queries.board_settings(get_store(), name)
    if found is None:
        raise Http404("該当する板は存在しません。")
    return found


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "board/index.html", {"boards": queries.all_boards(get_store())})


@require_safe
def board_top(request: HttpRequest, board: str) -> HttpResponse:
    """The first threads of the live list, and digests of the first top_threads.

    The page changes when the live list does (every post, deletion or fall
    moves its ``updated``) or the board's settings do, so it is kept rendered
    under those: most requests read the live list alone.
    """
    store = get_store()
    settings, version = _board_or_404(board)
    listing = queries.live_list(store, board)

    def context() -> dict:
        digests = []
        shown = listing.top(settings["top_threads"])
        values = queries.thread_values(store, board, shown)  # one batch, not a read per digest
        for key in shown:
            value = values.get(key)
            thread = queries.thread(store, board, key, value) if value is not None else None
            if value is None or thread is None:
                continue
            last = range(max(2, thread.count - settings["top_posts"] + 1), thread.count + 1)
            html = queries.recent_html(board, key, value, [1, *last]).decode("utf-8")
            digests.append((thread, mark_safe(html)))  # noqa: S308 - stored fragments, escaped when rendered
        listed = len(listing.top(10_000))
        return {"board": settings, "live": listing.live, "listed": listed, "digests": digests}

    # Every post, deletion, fall or stop moves the list's ``updated``; its bytes are in the key too,
    # should two web nodes' clocks disagree.
    key = ("top", store.location, board, version, listing.updated, zlib.crc32(listing.data))
    return render_spliced(request, "board/board.html", context, listing.menu, key=key)


@require_safe
def subback(request: HttpRequest, board: str) -> HttpResponse:
    """Every live thread of the board (subback.html, as 2ch calls the full list).

    Kept rendered like the board top, under the live list's version: its bytes
    hold every live thread's title and count (subject.txt), so a request reads
    the list and renders no row unless the list changed.
    """
    store = get_store()
    settings, version = _board_or_404(board)
    listing = queries.live_list(store, board)

    def context() -> dict:
        return {"board": settings, "threads": queries.threads(store, board, listing)}

    key = ("subback", store.location, board, version, listing.updated, zlib.crc32(listing.data))
    return render_spliced(request, "board/subback.html", context, key=key)


@require_safe
def archive(request: HttpRequest, board: str, month: str = "") -> HttpResponse:
    """The archive (過去ログ倉庫): its months, and a page of a month's threads (``?before=`` pages back)."""
    settings, _ = _board_or_404(board)
    before = request.GET.get("before")
    if before is not None and not ARCHIVE_CURSOR_RE.fullmatch(before):
        raise Http404("過去ログのページの指定が正しくありません。")
    store = get_store()
    months = queries.archive_months(store, board)
    if month and month not in months:
        raise Http404("この月の過去ログはありません。")
    month = month or (months[0] if months else "")
    page = queries.archived(store, board, month, before) if month else queries.ArchivePage([], None)
    context = {"board": settings, "months": months, "month": month, "page": page, "before": before}
    return render(request, "board/archive.html", context)


@require_safe
def thread_page(request: HttpRequest, board: str, key: str, range_text: str = "") -> HttpResponse:
    store = get_store()
    settings, version = _board_or_404(board)
    try:
        wanted = parse_range(range_text)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    value = queries.thread_value(store, board, key)
    thread = queries.thread(store, board, key, value) if value is not None else None
    posted = readyourwrites.pending_number(request, board, key)
    if posted and (thread is None or thread.count < posted):
        readyourwrites.catch_up(board, key, thread.count if thread else 0, posted)
        value = queries.thread_value(store, board, key)
        thread = queries.thread(store, board, key, value) if value is not None else None
    if thread is None:
        raise Http404("該当するスレッドは存在しません。")
    context = {"board": settings, "thread": thread, "stopped": thread.count >= settings["res_max"]}
    # The frame shows the board's settings and the thread's entry: kept under their versions.
    frame = ("thread", store.location, board, version, thread)
    # The posts shown are named by the range and the thread object's header (its count, its
    # pages' fingerprints, its own fragments' bounds, the renderer): kept under it.
    shown = (("posts", store.location, board, key, range_text), raw_header(value))

    def posts() -> list[bytes | memoryview]:
        return queries.posts_html(store, board, key, wanted.numbers(thread.count), value)

    return render_spliced(request, "board/thread.html", context, posts, key=frame, content_key=shown)


def post(request: HttpRequest, board: str) -> HttpResponse:
    """The HTML form's target: a reply when ``key`` is given, else a new thread."""
    if request.method != "POST":
        # Someone followed or reloaded the form's address: show the board, not a blank 405.
        return redirect("board", board=board)
    if request.content_type not in FORM_TYPES:
        # A JSON or text body's fields would not be read, and the refusal would name a missing field.
        context = {"message": WRONG_FORM_TYPE, "maybe_written": False}
        return render(request, "board/error.html", context, status=415)
    if not _decodes(request):
        context = {"message": BAD_ENCODING, "maybe_written": False}
        return render(request, "board/error.html", context, status=400)
    key = request.POST.get("key") or None
    sub = Submission(
        name=request.POST.get("FROM", ""),
        mail=request.POST.get("mail", ""),
        body=request.POST.get("MESSAGE", ""),
        subject=request.POST.get("subject", ""),
        token=request.POST.get("once", ""),
    )
    try:
        posted = submit(board, key, sub, client_address(request))
    except Refused as refusal:
        context = {"message": refusal.message, "maybe_written": refusal.maybe_written}
        return render(request, "board/error.html", context, status=refusal.status)
    back = f"/test/read.cgi/{posted.board}/{posted.thread}/l50#{posted.number}"
    response = render_filled("board/posted.html", {"back": back})
    readyourwrites.remember(response, posted.board, posted.thread, posted.number)
    return response


def _decodes(request: HttpRequest) -> bool:
    """Whether the form's bytes were text in its charset.

    Django decodes a form with replacement, so in request.POST a byte that
    was not UTF-8 and a U+FFFD the poster typed look alike: the bytes are
    checked instead. A multipart body cannot be read again; there a U+FFFD
    is taken for a byte that did not decode.
    """
    if request.content_type != URLENCODED:
        return not any("\ufffd" in value for value in request.POST.values())
    try:
        unquote_to_bytes(request.body.replace(b"+", b" ")).decode(request.encoding or site_settings.DEFAULT_CHARSET)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest, board: str, key: str, number: str) -> HttpResponse:
    """削除依頼: a reader reports a post (no account; rate limited per address)."""
    settings, _ = _board_or_404(board)
    thread = queries.thread(get_store(), board, key)
    if thread is None or not 1 <= int(number) <= thread.count:
        raise Http404("該当するレスは存在しません。")
    context = {"board": settings, "thread": thread, "number": int(number)}
    if request.method != "POST":
        return render(request, "board/report.html", context)
    try:
        reason = request.POST.get("reason", "")
        reports.report(board, key, int(number), reason, client_address(request), site_settings.ID_SECRET)
    except reports.TooSoon:
        context["error"] = "連続で通報はできません。しばらくしてからお試しください。"
    except ModerationError as exc:
        context["error"] = str(exc)
    except LogError:
        context["error"] = "サーバーが混雑しているため送信できませんでした。通報は保存されていません。"
    else:
        context["done"] = True
    return render(request, "board/report.html", context, status=400 if "error" in context else 200)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused for its CSRF token, on the board's own error page (Django's has an inline style)."""
    context = {"message": "フォームの有効期限が切れました。ページを読み込み直してから書き込んでください。"}
    return render(request, "board/error.html", context, status=403)
