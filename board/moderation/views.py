"""The moderation site's pages: thin; reads from the store, actions through board.moderation.

Every action is a POST (CSRF-checked by admin_view), asks for a reason, and
commits an event naming the moderator; the action applies it at once so the
moderator sees the result, and by the workers everywhere else. A moderator
acts only on the boards assigned to them; superusers on every board, and
they alone manage boards and moderators.
"""

from __future__ import annotations

from datetime import date, datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from board.boards import DEFAULTS, LABELS, TEXT_SETTINGS
from board.events import Event
from board.formats.posthtml import post_html
from board.log import LogError
from board.moderation import accounts, actions, purge, search
from board.moderation import audit as audit_trail
from board.moderation import reports as queue
from board.moderation.actions import ModerationError, NotApplied
from board.moderation.boards import close_board, reopen_board, save_board
from board.readmodel import queries
from board.readmodel.moderation import JST
from board.store import StoreError, get_store


def _boards(request: HttpRequest) -> list[str]:
    """The boards this moderator may act on."""
    every = [b["name"] for b in queries.all_boards(get_store())]
    return every if request.user.is_superuser else [b for b in every if b in request.user.boards]


def _board_or_deny(request: HttpRequest, board: str) -> dict:
    settings = queries.board(get_store(), board)
    if settings is None:
        raise Http404("該当する板は存在しません。")
    if not request.user.can_moderate(board):
        raise PermissionDenied(f"/{board}/ はあなたが担当する板ではありません。")
    return settings


def _superuser(request: HttpRequest) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied("板とモデレーターの管理は管理者（スーパーユーザー）だけができます。")


def _page(request: HttpRequest, template: str, title: str, **context) -> HttpResponse:
    from board.moderation.site import site

    return render(request, template, {**site.each_context(request), "title": title, **context})


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = fallback
    return HttpResponseRedirect(target or fallback)


def dashboard(request: HttpRequest) -> HttpResponse:
    boards = _boards(request)
    today = datetime.now(JST).date()
    return _page(
        request,
        "moderation/dashboard.html",
        "モデレーション",
        boards=[queries.board(get_store(), b) for b in boards],
        open_reports=len(queue.open_reports(boards)),
        actions=audit_trail.actions(today, None if request.user.is_superuser else boards)[:20],
    )


def boards(request: HttpRequest) -> HttpResponse:
    _superuser(request)
    every = [queries.board(get_store(), b["name"]) for b in queries.all_boards(get_store())]
    return _page(request, "moderation/boards.html", "板", boards=every, settings=sorted(DEFAULTS))


def board_edit(request: HttpRequest, name: str) -> HttpResponse:
    """Create a board (name "new"), or change its settings: only what changed is committed."""
    _superuser(request)
    current = queries.board(get_store(), name) if name != "new" else None
    if name != "new" and current is None:
        raise Http404("該当する板は存在しません。")
    shown = dict(current or DEFAULTS)
    typed = {"name": "", "reason": ""}
    if request.method == "POST":
        target = request.POST.get("name", "") if current is None else name
        reason = request.POST.get("reason", "").strip()
        try:
            settings = _settings(request.POST)
            if not reason:
                raise ModerationError(gettext("a reason is required"))
            event = save_board(target, settings, by=request.user.username, reason=reason, new=current is None)
        except (ModerationError, ValueError, LogError) as exc:
            messages.error(request, str(exc))
            # The form comes back as it was sent: a refusal loses none of what was typed.
            shown |= {
                k: (k in request.POST if isinstance(v, bool) else request.POST.get(k, v)) for k, v in shown.items()
            }
            typed = {"name": target, "reason": reason}
        except NotApplied as exc:
            messages.warning(request, str(exc))
            return HttpResponseRedirect(reverse("moderation:boards"))
        else:
            done = gettext("/%(name)s/: saved") if event else gettext("/%(name)s/: nothing changed")
            messages.success(request, done % {"name": target})
            return HttpResponseRedirect(reverse("moderation:boards"))
    return _page(
        request,
        "moderation/board_edit.html",
        f"/{name}/" if current else "新しい板",
        board=current or {**DEFAULTS, "name": ""},
        fields=[(k, LABELS[k], shown[k], _input(k)) for k in DEFAULTS],
        typed=typed,
    )


def _whole_number(raw: str, digits: int, signed: bool = False) -> int | None:
    """A number as the forms send it, or None: ASCII digits (int() would take ٣ for 3), at most so many."""
    unsigned = raw.strip().removeprefix("-") if signed else raw
    return int(raw) if unsigned.isascii() and unsigned.isdigit() and len(raw) <= digits else None


def _settings(form) -> dict:
    """The settings the board form sent, typed as their defaults are (a box not ticked is False)."""
    settings = {}
    for key, default in DEFAULTS.items():
        raw = form.get(key)
        if raw is None and isinstance(default, bool):
            raw = ""
        if raw is None:
            continue
        if isinstance(default, bool):
            settings[key] = raw in ("on", "1", "true")
        elif isinstance(default, int):
            if (number := _whole_number(raw, 12, signed=True)) is None:
                raise ModerationError(
                    gettext("%(key)s must be a whole number, not %(raw)r") % {"key": key, "raw": raw[:20]}
                )
            settings[key] = number
        else:
            # A textarea sends CRLF; the setting keeps LF, as the pages and head.txt write it.
            settings[key] = raw.replace("\r\n", "\n") if key in TEXT_SETTINGS else raw
    return settings


def _input(key: str) -> str:
    """The form's input for a setting: a box to tick, a box of several lines, or a line."""
    if isinstance(DEFAULTS[key], bool):
        return "checkbox"
    return "textarea" if key in TEXT_SETTINGS else "line"


def posts(request: HttpRequest) -> HttpResponse:
    """Recent posts across the moderator's boards, newest first, filtered."""
    boards = _boards(request)
    chosen = request.GET.get("board", "")
    if chosen:
        _board_or_deny(request, chosen)
    day = None
    if request.GET.get("date"):
        try:
            day = date.fromisoformat(request.GET["date"])
        except ValueError:
            messages.error(request, gettext("date: YYYY-MM-DD"))
    filters = search.Filters(
        thread=request.GET.get("thread", "").strip(),
        poster=request.GET.get("id", "").strip(),
        trip=request.GET.get("trip", "").strip().lstrip("◆"),
        day=day,
        text=request.GET.get("q", "").strip(),
    )
    found = search.recent_posts([chosen] if chosen else boards, filters)
    return _page(request, "moderation/posts.html", "書き込み", posts=found, boards=boards, query=request.GET)


def thread(request: HttpRequest, board: str, key: str) -> HttpResponse:
    """A thread with an action on every post."""
    settings = _board_or_deny(request, board)
    found = queries.thread(get_store(), board, key)
    if found is None:
        raise Http404("該当するスレッドは存在しません。")
    shown = queries.posts(get_store(), board, key, list(range(1, found.count + 1)))
    rows = [(p, post_html(board, key, p)) for p in shown]
    return _page(request, "moderation/thread.html", found.title, board=settings, thread=found, rows=rows)


@require_POST
def act(request: HttpRequest) -> HttpResponse:
    """Every action on a post, a thread, an ID or a board: one POST, with a reason."""
    board, what = request.POST.get("board", ""), request.POST.get("action", "")
    _board_or_deny(request, board)
    reason = request.POST.get("reason", "").strip()
    key = request.POST.get("thread", "")
    by = request.user.username
    named = key.isascii() and key.isdigit()  # a thread key; anything else has no page to go back to
    fallback = reverse("moderation:thread", args=(board, key)) if named else reverse("moderation:index")
    if not reason:
        messages.error(request, gettext("every action needs a reason"))
        return _back(request, fallback)
    if what in ("purge", "close", "reopen"):  # superusers manage boards; a moderator acts in them
        _superuser(request)
    try:
        raw = request.POST.get("number") or "0"
        if (number := _whole_number(raw, 6)) is None:
            raise ModerationError(gettext("a post number is a whole number, not %(raw)r") % {"raw": raw[:20]})
        done = _do(what, board, key, number, request.POST, reason, by)
    except (ModerationError, ValueError, LogError) as exc:
        messages.error(request, str(exc))
        return _back(request, fallback)
    except StoreError as exc:  # an action reads the store before it commits; after, it is NotApplied
        messages.error(request, gettext("the store did not answer, nothing was committed: %(error)s") % {"error": exc})
        return _back(request, fallback)
    except NotApplied as exc:
        messages.warning(request, str(exc))
        return _back(request, fallback)
    messages.success(
        request,
        gettext("%(action)s: done (%(count)d event(s))") % {"action": actions.ACTION_NAMES[what], "count": len(done)},
    )
    return _back(request, fallback)


def _do(what: str, board: str, key: str, number: int, form, reason: str, by: str) -> list[Event | None]:
    if what == "delete":
        return [actions.delete_post(board, key, number, reason, by)]
    if what == "purge":
        return [purge.purge_post(board, key, number, reason, by)]
    if what == "delete_id":
        return actions.delete_posts_of(board, key, form.get("poster", ""), reason, by)
    if what == "ban":
        return [actions.ban_poster(board, key, number, reason, by)]
    if what == "lift":
        return [actions.lift_ban(board, form.get("poster", ""), form.get("day", ""), reason, by)]
    if what == "stop":
        return [actions.stop_thread(board, key, reason, by)]
    if what == "resume":
        return [actions.resume_thread(board, key, reason, by)]
    if what == "archive":
        return [actions.archive_thread(board, key, reason, by)]
    if what == "restore":
        return [actions.restore_thread(board, key, reason, by)]
    if what == "close":
        return [close_board(board, by, reason)]
    if what == "reopen":
        return [reopen_board(board, by, reason)]
    if what in ("accept", "dismiss"):
        return list(queue.resolve(board, form.get("report", ""), what == "accept", by, reason))
    raise ModerationError(gettext("unknown action %(action)r") % {"action": what})


def reports(request: HttpRequest) -> HttpResponse:
    return _page(request, "moderation/reports.html", "削除依頼", reports=queue.open_reports(_boards(request)))


def audit(request: HttpRequest) -> HttpResponse:
    day = datetime.now(JST).date()
    if request.GET.get("date"):
        try:
            day = date.fromisoformat(request.GET["date"])
        except ValueError:
            messages.error(request, gettext("date: YYYY-MM-DD"))
    scope = None if request.user.is_superuser else _boards(request)
    board = request.GET.get("board", "")
    if board:
        _board_or_deny(request, board)
        scope = [board]
    found = audit_trail.actions(day, scope, request.GET.get("by", "").strip())
    return _page(request, "moderation/audit.html", "操作履歴", actions=found, day=day, query=request.GET)


def moderators(request: HttpRequest) -> HttpResponse:
    _superuser(request)
    typed: dict = {"username": "", "superuser": False, "boards": []}
    if request.method == "POST":
        try:
            event = accounts.create(
                request.POST.get("username", "").strip(),
                request.POST.get("password", ""),
                superuser=request.POST.get("superuser") == "on",
                boards=request.POST.getlist("boards"),
                by=request.user.username,
            )
        except (ModerationError, LogError) as exc:  # an AccountError is one
            messages.error(request, str(exc))
            # The form comes back as it was sent, but for the password.
            typed = {
                "username": request.POST.get("username", "").strip(),
                "superuser": request.POST.get("superuser") == "on",
                "boards": request.POST.getlist("boards"),
            }
        except NotApplied as exc:
            messages.warning(request, str(exc))
            return HttpResponseRedirect(reverse("moderation:moderators"))
        else:
            messages.success(request, gettext("account %(username)s created") % {"username": event.payload["username"]})
            return HttpResponseRedirect(reverse("moderation:moderators"))
    every = [accounts.get(name) for name in accounts.usernames()]
    return _page(
        request,
        "moderation/moderators.html",
        "モデレーター",
        moderators=[m for m in every if m is not None],
        boards=[b["name"] for b in queries.all_boards(get_store())],
        typed=typed,
    )


def moderator_edit(request: HttpRequest, username: str) -> HttpResponse:
    _superuser(request)
    moderator = accounts.get(username)
    if moderator is None:
        raise Http404("該当するアカウントは存在しません。")
    if request.method == "POST":
        fields = {
            "boards": request.POST.getlist("boards"),
            "superuser": request.POST.get("superuser") == "on",
            "active": request.POST.get("active") == "on",
        }
        password = request.POST.get("password") or None
        cap = None
        if request.POST.get("cap_withdraw") == "on":
            cap = ("", "")
        elif request.POST.get("cap_key"):
            cap = (request.POST.get("cap_name", "").strip(), request.POST["cap_key"])
        try:
            reason = request.POST.get("reason", "")
            accounts.change(username, request.user.username, reason, password, cap, **fields)
        except (ModerationError, LogError) as exc:  # an AccountError is one
            messages.error(request, str(exc))
        except NotApplied as exc:
            messages.warning(request, str(exc))
            return HttpResponseRedirect(reverse("moderation:moderators"))
        else:
            messages.success(request, gettext("account %(username)s changed") % {"username": username})
            return HttpResponseRedirect(reverse("moderation:moderators"))
    boards = [b["name"] for b in queries.all_boards(get_store())]
    return _page(request, "moderation/moderator_edit.html", username, moderator=moderator, boards=boards)


@require_POST
def moderator_purge(request: HttpRequest, username: str) -> HttpResponse:
    """Purge an account: deactivated, and its password and cap hashes rewritten out of the log."""
    _superuser(request)
    reason = request.POST.get("reason", "").strip()
    back = reverse("moderation:moderator_edit", args=(username,))
    if not reason:
        messages.error(request, gettext("every action needs a reason"))
        return HttpResponseRedirect(back)
    try:
        purge.purge_account(username, reason, request.user.username)
    except (ModerationError, LogError) as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(back)
    except NotApplied as exc:
        messages.warning(request, str(exc))
        return HttpResponseRedirect(back)
    messages.success(
        request,
        gettext("account %(username)s: purge recorded; its hashes are being removed from the log")
        % {"username": username},
    )
    return HttpResponseRedirect(reverse("moderation:moderators"))


def password(request: HttpRequest) -> HttpResponse:
    """A moderator changes their own password (a ModeratorChanged event; other sessions end)."""
    if request.method == "POST":
        me = request.user
        if not me.check_password(request.POST.get("old", "")):
            messages.error(request, gettext("the current password is wrong"))
        else:
            try:
                accounts.change(me.username, me.username, "own password", request.POST.get("new", ""))
            except (ModerationError, LogError) as exc:  # an AccountError is one
                messages.error(request, str(exc))
            except NotApplied as exc:  # committed: the new password works once the workers apply it
                messages.warning(request, str(exc))
                return HttpResponseRedirect(reverse("moderation:index"))
            else:
                from django.contrib.auth import update_session_auth_hash

                update_session_auth_hash(request, accounts.get(me.username))
                messages.success(request, gettext("password changed"))
                return HttpResponseRedirect(reverse("moderation:index"))
    return _page(request, "moderation/password.html", "パスワード変更")
