"""Page views: thin; the reads are in board.readmodel, the write in board.posting."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from board.formats.ranges import parse_range
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from board.web import readyourwrites
from board.web.client import client_address
from board.web.render import posts_html


def _board_or_404(name: str) -> dict:
    board = queries.board(get_store(), name)
    if board is None:
        raise Http404("該当する板は存在しません。")
    return board


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "board/index.html", {"boards": queries.all_boards(get_store())})


@require_GET
def board_top(request: HttpRequest, board: str) -> HttpResponse:
    store = get_store()
    settings = _board_or_404(board)
    threads = queries.threads(store, board)
    digests = []
    for thread in threads[: settings["top_threads"]]:
        last = range(max(2, thread.count - settings["top_posts"] + 1), thread.count + 1)
        digests.append((thread, posts_html(settings, thread.key, queries.posts(store, board, thread.key, [1, *last]))))
    context = {"board": settings, "threads": threads, "digests": digests}
    return render(request, "board/board.html", context)


@require_GET
def archive(request: HttpRequest, board: str) -> HttpResponse:
    settings = _board_or_404(board)
    threads = queries.threads(get_store(), board, state="archived")
    return render(request, "board/archive.html", {"board": settings, "threads": threads})


@require_GET
def thread_page(request: HttpRequest, board: str, key: str, range_text: str = "") -> HttpResponse:
    store = get_store()
    settings = _board_or_404(board)
    try:
        wanted = parse_range(range_text)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    thread = queries.thread(store, board, key)
    posted = readyourwrites.pending_number(request, board, key)
    if posted and (thread is None or thread.count < posted):
        readyourwrites.catch_up(board, key, thread.count if thread else 0, posted)
        thread = queries.thread(store, board, key)
    if thread is None:
        raise Http404("該当するスレッドは存在しません。")
    posts = queries.posts(store, board, key, wanted.numbers(thread.count))
    context = {
        "board": settings,
        "thread": thread,
        "posts": posts_html(settings, key, posts),
        "range_text": range_text,
        "stopped": thread.count >= settings["res_max"],
    }
    return render(request, "board/thread.html", context)


def post(request: HttpRequest, board: str) -> HttpResponse:
    """The HTML form's target: a reply when ``key`` is given, else a new thread."""
    if request.method != "POST":
        # Someone followed or reloaded the form's address: show the board, not a blank 405.
        return redirect("board", board=board)
    key = request.POST.get("key") or None
    sub = Submission(
        name=request.POST.get("FROM", ""),
        mail=request.POST.get("mail", ""),
        body=request.POST.get("MESSAGE", ""),
        subject=request.POST.get("subject", ""),
    )
    try:
        posted = submit(board, key, sub, client_address(request))
    except Refused as refusal:
        return render(request, "board/error.html", {"message": refusal.message}, status=refusal.status)
    response = render(request, "board/posted.html", {"posted": posted})
    readyourwrites.remember(response, posted.board, posted.thread, posted.number)
    return response
