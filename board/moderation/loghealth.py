"""The log-health page of the moderation site: is the log healthy, at a glance (superusers only).

The figures come from board/lifecycle/health.py (the tick's recorded look at the log and its
judgements, board/lifecycle/state.py, with the kept census and a listing of each newest segment's
key, never of the bucket); this module only shapes them for the template: ages and sizes in words,
and the two charts as SVG geometry (board/moderation/charts.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from board.formats.dates import JST
from board.lifecycle import health
from board.lifecycle import state as logstate
from board.lifecycle.errors import LifecycleError
from board.log import LogError, get_log
from board.moderation import charts
from board.moderation.views import _page, _superuser
from board.store import StoreError, get_store


def age_text(age: timedelta | None) -> str:
    """An age as people say it: 「3分」, 「2時間5分」, 「1日3時間」."""
    if age is None:
        return "—"
    seconds = max(0, int(age.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}日{hours}時間" if hours else f"{days}日"
    if hours:
        return f"{hours}時間{minutes}分" if minutes else f"{hours}時間"
    return f"{minutes}分" if minutes else f"{seconds}秒"


def _charts(census: dict, now: datetime) -> list[charts.Chart]:
    start = (now - timedelta(days=settings.HEALTH_DAYS)).replace(minute=0, second=0, microsecond=0)
    posts = {datetime.fromisoformat(hour): n for hour, n in census.get("posts", {}).items()}
    backlog = [(datetime.fromisoformat(at), waiting) for at, waiting, _ in census.get("backlog", [])]
    return [
        charts.hourly_bars("1時間ごとの書き込み数", posts, start, now, JST),
        charts.time_line("ロールアップ待ちのイベント数 (incoming/)", backlog, start, now, JST),
    ]


def _classes(census: dict) -> list[tuple[str, dict]]:
    return list(census.get("classes", {}).items())


def log_health(request: HttpRequest) -> HttpResponse:
    _superuser(request)
    try:
        found = health.summary(get_log(), get_store())
    except (LogError, StoreError, LifecycleError) as exc:
        return _page(request, "moderation/loghealth.html", "ログの状態", error=str(exc))
    census = found.census or {}
    look = found.look
    segments = [
        (label, segment, age_text(timedelta(seconds=segment.made.age(found.now))) if segment else "—")
        for label, segment in (
            ("ロールアップ (hourly/)", found.segments["rollup"]),
            ("スナップショット (LATEST)", found.segments["snapshot"]),
            ("日次バンドル (daily/)", found.segments["bundle"]),
        )
    ]
    backlog_age = look.backlog_age(found.now) if look else None
    if found.last_fanout is not None:
        took, applied = found.last_fanout
        last_fanout = (f"{took:.1f}秒", age_text(found.now - datetime.fromtimestamp(applied, UTC)))
    else:
        last_fanout = None
    return _page(
        request,
        "moderation/loghealth.html",
        "ログの状態",
        summary=found,
        look=look,
        census=census,
        segments=segments,
        oldest_waiting=age_text(timedelta(seconds=backlog_age) if backlog_age is not None else None),
        looked=age_text(found.now - look.looked_at) if look else "—",
        lag=age_text(timedelta(seconds=census["lag"]["seconds"])) if census else "—",
        last_fanout=last_fanout,
        counted=age_text(found.now - datetime.fromisoformat(census["at"])) if census else "—",
        verified=age_text(found.now - datetime.fromisoformat(found.verification["at"])) if found.verification else "—",
        classes=[(name, c["objects"], c["bytes"], name in health.COLD) for name, c in _classes(census)],
        charts=_charts(census, found.now) if census else [],
        thresholds={
            "rollup": age_text(timedelta(seconds=settings.ROLLUP_LATE_SECONDS)),
            "snapshot": age_text(timedelta(seconds=settings.SNAPSHOT_LATE_SECONDS)),
            "tick": age_text(logstate.tick_allowance()),
        },
    )
