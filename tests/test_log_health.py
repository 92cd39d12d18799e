"""The log's health in figures (board/lifecycle/health.py), the admin's "Log health" page and manage.py loghealth.

Lateness itself is judged by board/lifecycle/state.py (tests/test_log_state.py); here, that the page
and the command show the tick's look and judgement, beside the census they keep.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from board.events import EventType
from board.lifecycle import health
from board.lifecycle import keys as k
from board.lifecycle import state as logstate
from board.lifecycle.jobs import snapshot_and_bundle
from board.lifecycle.rollup import rollup
from board.log import get_log
from board.log.base import BaseLog
from board.moderation import charts
from board.moderation.loghealth import age_text
from board.store import get_store
from tests import services
from tests.helpers import apply_pending
from tests.lifecycle_helpers import board_at, commit_at, post_at, thread_at
from tests.test_admin import account, signed_in
from tests.test_tiering import archive, use_s3_log

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
# For a test that goes hours back and needs its hourly segment kept: no day ends between
# then and MIDDAY (run after midnight, NOW's three hours back would be yesterday's, bundled).
MIDDAY = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """The memory log's clock (the objects' modified times), set by the test."""

    class Clock:
        at = NOW

    monkeypatch.setattr("board.log.memory._now", lambda: Clock.at)
    return Clock


def posts_at(when: datetime, count: int, board: str = "test", first: bool = True) -> str:
    """A board (once), a thread and count-1 replies committed at when (not fanned out)."""
    if first:
        board_at(board, when)
    thread = thread_at(board, when).thread
    for number in range(2, count + 1):
        post_at(board, thread, number, when)
    return thread


def rolled(now: datetime) -> None:
    apply_pending()
    rollup(get_log(), get_store(), now=now)


def looked(now: datetime | None = None) -> logstate.LogState:
    """What the jobs' tick does every minute: look at the log and record it."""
    state = logstate.look(get_log(), now)
    logstate.record(state)
    return state


# --- the census: counted by a job and kept ---------------------------------------------------------


def test_the_census_counts_objects_and_bytes_per_storage_class(clock) -> None:
    posts_at(NOW - timedelta(hours=3), 3)
    rolled(NOW)
    segment = next(info for info in get_log().list(k.HOURLY) if info.key.endswith(k.DATA))
    get_log().archive(segment.key)
    listed = list(get_log().list(""))
    found = health.census(get_log(), get_store(), NOW)["classes"]
    assert found["GLACIER"] == {"objects": 1, "bytes": segment.size}
    assert found["STANDARD"]["objects"] == len(listed) - 1
    assert found["STANDARD"]["bytes"] == sum(info.size for info in listed) - segment.size


def test_the_census_samples_the_events_waiting_in_the_tail_and_the_oldest_ones_age(clock) -> None:
    clock.at = NOW - timedelta(minutes=20)
    posts_at(NOW - timedelta(minutes=20), 2)
    clock.at = NOW - timedelta(minutes=5)
    commit_at(EventType.POST_CREATED, "test", NOW, "1", 9, body="x")
    found = health.census(get_log(), get_store(), NOW)
    # The board, the thread, a reply, and one more post; the oldest waited 20 minutes.
    assert found["backlog"] == [[NOW.isoformat(), 4, 1200]]


def test_a_kept_claim_already_rolled_up_is_not_sampled_as_waiting(clock) -> None:
    posts_at(NOW - timedelta(hours=3), 2)
    rolled(NOW)
    assert any(info.key.endswith(".rolled") for info in get_log().list("incoming/"))
    assert health.census(get_log(), get_store(), NOW)["backlog"][-1][1] == 0


def test_the_fanout_lag_is_the_oldest_post_committed_but_not_in_the_store(clock) -> None:
    clock.at = NOW - timedelta(seconds=90)
    posts_at(NOW - timedelta(seconds=90), 3)
    lag = health.census(get_log(), get_store(), NOW)["lag"]
    assert lag == {"posts": 3, "seconds": 90, "threads": 1}


def test_there_is_no_fanout_lag_once_the_workers_applied_the_posts(clock) -> None:
    posts_at(NOW - timedelta(seconds=90), 3)
    apply_pending()
    assert health.census(get_log(), get_store(), NOW)["lag"]["posts"] == 0


def test_posts_per_hour_come_from_the_hourly_manifests_and_the_waiting_claims(clock) -> None:
    three_ago = (NOW - timedelta(hours=3)).replace(minute=0)
    clock.at = three_ago + timedelta(minutes=10)
    posts_at(three_ago + timedelta(minutes=10), 4)
    rolled(NOW)
    clock.at = NOW
    posts_at(NOW, 2, board="news", first=True)
    posts = health.census(get_log(), get_store(), NOW)["posts"]
    assert posts[three_ago.isoformat()] == 4
    assert posts[NOW.replace(minute=0).isoformat()] == 2


def test_an_hours_count_is_kept_after_its_hourly_segments_are_bundled_away(clock) -> None:
    hour = (NOW - timedelta(hours=3)).replace(minute=0)
    posts_at(hour + timedelta(minutes=1), 5)
    rolled(NOW)
    health.census(get_log(), get_store(), NOW)
    get_log().delete([info.key for info in get_log().list(k.HOURLY)])  # what bundling does to them
    assert health.census(get_log(), get_store(), NOW)["posts"][hour.isoformat()] == 5


def test_each_hourly_manifest_is_read_by_one_census_only(clock, monkeypatch) -> None:
    posts_at(NOW - timedelta(hours=3), 2)
    rolled(NOW)
    health.census(get_log(), get_store(), NOW)
    reads: list[str] = []
    original = type(get_log()).read
    monkeypatch.setattr(type(get_log()), "read", lambda self, key: reads.append(key) or original(self, key))
    health.census(get_log(), get_store(), NOW + timedelta(minutes=5))
    assert not [key for key in reads if key.startswith(k.HOURLY)]


def test_backlog_samples_older_than_the_charted_days_are_dropped(clock, settings) -> None:
    settings.HEALTH_DAYS = 1
    health.census(get_log(), get_store(), NOW - timedelta(days=2))
    health.census(get_log(), get_store(), NOW - timedelta(hours=1))
    backlog = health.census(get_log(), get_store(), NOW)["backlog"]
    assert [sample[0] for sample in backlog] == [(NOW - timedelta(hours=1)).isoformat(), NOW.isoformat()]


@pytest.mark.slow
def test_on_s3_the_census_counts_an_archived_segment_as_cold_and_the_page_still_finds_it(
    settings, s3_endpoint, s3_bucket
) -> None:
    use_s3_log(settings, s3_endpoint, s3_bucket)
    now = datetime.now(UTC)
    posts_at(now - timedelta(hours=3), 3)
    rolled(now)
    segment = next(info for info in get_log().list(k.HOURLY) if info.key.endswith(k.DATA))
    archive(services.s3_client(s3_endpoint), s3_bucket, segment.key)
    classes = health.census(get_log(), get_store(), now)["classes"]
    assert classes["GLACIER"] == {"objects": 1, "bytes": segment.size}
    assert classes["STANDARD"]["objects"] == sum(1 for info in get_log().list("")) - 1
    looked(now)
    found = health.summary(get_log(), get_store(), now).segments["rollup"]
    assert found is not None and found.made.key == segment.key and found.present


# --- the summary: the tick's look and judgement, the kept census ----------------------------------


class CountingLog(BaseLog):
    """A log seen through a wrapper that records every listing's prefix."""

    def __init__(self, log: BaseLog) -> None:
        super().__init__(log.location)
        self._log, self.listed = log, []

    def list(self, prefix: str = "", start_after: str = ""):
        self.listed.append(prefix)
        return self._log.list(prefix, start_after)

    def read(self, key: str) -> bytes:
        return self._log.read(key)

    def open(self, key: str):
        return self._log.open(key)

    def exists(self, key: str) -> bool:
        return self._log.exists(key)


def test_the_summary_reads_the_census_the_job_kept(clock) -> None:
    posts_at(NOW - timedelta(minutes=3), 2)
    kept = health.census(get_log(), get_store(), NOW)
    assert health.summary(get_log(), get_store(), NOW).census == kept


def test_the_summary_lists_only_the_newest_segments_own_keys(clock) -> None:
    posts_at(NOW - timedelta(days=2), 2)
    rolled(NOW)
    snapshot_and_bundle(get_log(), NOW)
    posts_at(NOW - timedelta(hours=3), 2, first=False)
    rolled(NOW)
    state = looked(NOW)
    counting = CountingLog(get_log())
    health.summary(counting, get_store(), NOW)
    # The backlog and the newest objects are the tick's record: a view lists each one's key (is its data
    # still there?), no prefix.
    made = [state.last_rollup.key, state.snapshot.key, state.last_bundle.key]
    assert sorted(counting.listed) == sorted(made)


def test_the_summary_shows_the_ticks_look_at_the_newest_rollup_and_snapshot(clock) -> None:
    posts_at(MIDDAY - timedelta(hours=3), 3)
    clock.at = MIDDAY - timedelta(minutes=20)
    rolled(MIDDAY)
    snapshot_and_bundle(get_log(), MIDDAY - timedelta(minutes=10))
    state = looked(MIDDAY)
    found = health.summary(get_log(), get_store(), MIDDAY)
    assert found.look == state
    rollup_, snapshot = found.segments["rollup"], found.segments["snapshot"]
    assert rollup_ is not None and rollup_.made == state.last_rollup and rollup_.present
    assert rollup_.made.count == 4 and rollup_.made.age(MIDDAY) == 20 * 60
    assert snapshot is not None and snapshot.made == state.snapshot and snapshot.present
    assert snapshot.made.count == 4 and snapshot.made.age(MIDDAY) == 10 * 60
    assert re.fullmatch(r"[0-9a-f]{64}", snapshot.made.sha256)


def test_the_summary_shows_the_newest_daily_bundle(clock) -> None:
    day = NOW - timedelta(days=2)
    posts_at(day, 2)
    rolled(NOW)
    snapshot_and_bundle(get_log(), NOW)
    looked(NOW)
    found = health.summary(get_log(), get_store(), NOW).segments["bundle"]
    assert found is not None and found.made.key.startswith(f"daily/{day:%Y/%m/%d}")
    assert found.made.count == 3 and found.present


def test_a_segment_whose_data_is_gone_since_the_look_is_shown_as_not_present(clock) -> None:
    posts_at(NOW - timedelta(hours=3), 2)
    rolled(NOW)
    looked(NOW)
    data = next(info.key for info in get_log().list(k.HOURLY) if info.key.endswith(k.DATA))
    get_log().delete([data])
    assert health.summary(get_log(), get_store(), NOW).segments["rollup"].present is False


def test_the_summarys_lateness_is_the_judgement_of_the_ticks_recorded_look(clock) -> None:
    clock.at = NOW - timedelta(hours=5)
    posts_at(NOW - timedelta(hours=5), 2)
    state = looked(NOW)
    found = health.summary(get_log(), get_store(), NOW)
    assert found.findings == logstate.judge(state, NOW)
    assert found.late == ["rollup"] and "rollup late" in found.alerts


def test_without_a_recorded_look_the_summary_says_the_tick_is_late(clock) -> None:
    found = health.summary(get_log(), get_store(), NOW)
    assert found.look is None and found.late == ["tick"]
    assert all(segment is None for segment in found.segments.values())


def test_with_the_cache_down_the_summary_says_the_ticks_record_cannot_be_read(clock, cache_down) -> None:
    found = health.summary(get_log(), get_store(), NOW)
    assert found.late == ["tick"] and "cannot be read" in found.findings[0].detail


def test_a_look_made_for_the_summary_is_judged_but_the_tick_is_judged_from_its_record(clock) -> None:
    looked(NOW - timedelta(hours=1))  # the tick's last look, an hour ago
    clock.at = NOW - timedelta(hours=5)
    posts_at(NOW - timedelta(hours=5), 2)
    found = health.summary(get_log(), get_store(), NOW, look=logstate.look(get_log(), NOW))
    assert found.look is not None and found.look.looked_at == NOW
    assert sorted(found.late) == ["rollup", "tick"]


def test_a_census_older_than_three_intervals_is_reported_stale(clock, settings) -> None:
    settings.HEALTH_CENSUS_SECONDS = 300
    health.census(get_log(), get_store(), NOW)
    assert not health.summary(get_log(), get_store(), NOW + timedelta(seconds=900)).census_stale
    assert "census stale" in health.summary(get_log(), get_store(), NOW + timedelta(seconds=901)).alerts


def test_verifylog_keeps_the_drift_it_found_for_the_page(clock) -> None:
    posts_at(NOW - timedelta(minutes=5), 3)  # committed, never applied: the store lacks them
    with pytest.raises(CommandError):
        call_command("verifylog", stdout=io.StringIO())
    kept = health.summary(get_log(), get_store(), NOW).verification
    assert kept is not None and kept["drift"] > 0 and kept["lines"] and not kept["repaired"]


# --- the charts ------------------------------------------------------------------------------------


def test_hourly_bars_draw_one_bar_per_hour_with_posts_under_a_round_top() -> None:
    start = NOW.replace(minute=0) - timedelta(hours=24)
    chart = charts.hourly_bars("posts", {start: 3, start + timedelta(hours=5): 7}, start, NOW, UTC)
    assert len(chart.bars) == 2 and chart.total == 10 and chart.peak == 7
    assert [tick.label for tick in chart.y_ticks] == ["0", "5", "10"]
    tallest = max(chart.bars, key=lambda bar: float(bar.height))
    assert float(tallest.height) == pytest.approx((chart.height - 34) * 0.7, abs=0.1)


def test_a_time_line_passes_through_every_sample_in_the_window() -> None:
    start = NOW - timedelta(days=1)
    samples = [(start - timedelta(hours=1), 5), (start + timedelta(hours=1), 2), (NOW, 4)]
    chart = charts.time_line("backlog", samples, start, NOW, UTC)
    assert len(chart.points.split()) == 2
    assert chart.last is not None and chart.points.endswith(f"{chart.last.x},{chart.last.y}")


def test_ages_read_as_people_say_them() -> None:
    assert [age_text(timedelta(seconds=s)) for s in (42, 180, 3900, 97200)] == ["42秒", "3分", "1時間5分", "1日3時間"]
    assert age_text(timedelta(hours=1)) == "1時間"


# --- the page ---------------------------------------------------------------------------------------


@pytest.fixture
def root():
    account("mod", boards=())  # no board here to moderate
    account("root", superuser=True, boards=())
    return signed_in("root")


def test_the_log_health_page_is_for_superusers_only(root) -> None:
    assert signed_in("mod").get("/admin/log/").status_code == 403


def test_the_log_health_page_shows_the_figures_and_two_svg_charts(root, clock) -> None:
    posts_at(NOW - timedelta(hours=3), 3)
    rolled(NOW)
    snapshot_and_bundle(get_log(), NOW)
    posts_at(NOW, 2, board="news")
    looked()
    health.census(get_log(), get_store())
    page = root.get("/admin/log/").content.decode()
    assert "ログの状態" in page and "スナップショット (LATEST)" in page
    assert f"{logstate.recorded().snapshot_image} オブジェクト (復元はこれを写します)" in page
    assert "ロールアップ待ち (incoming/)" in page and "2 件" in page
    assert "STANDARD" in page and "ログは健全です" in page
    assert page.count('<svg class="chart"') == 2 and '<rect class="bar"' in page
    assert "style=" not in page and "<script>" not in page


def test_the_log_health_page_shows_how_long_the_latest_fanout_took(root, monkeypatch) -> None:
    monkeypatch.setattr(logstate, "_noted", [0.0])  # this process's earlier fan-outs noted theirs
    logstate.record_fanout_lag(1.5)
    page = root.get("/admin/log/").content.decode()
    assert "最後に反映された書き込みはコミットから 1.5秒" in page


def test_the_log_health_page_says_rollup_late(root, clock) -> None:
    clock.at = NOW - timedelta(hours=5)
    posts_at(NOW - timedelta(hours=5), 2)
    looked()
    health.census(get_log(), get_store())
    page = root.get("/admin/log/").content.decode()
    assert "<strong>rollup late</strong>" in page and "snapshot late" not in page and "tick late" not in page


def test_the_log_health_page_says_so_when_nothing_was_looked_at_or_counted_yet(root) -> None:
    page = root.get("/admin/log/").content.decode()
    assert "<strong>tick late</strong>" in page and "まだ見ていません" in page
    assert "census stale" in page and "まだ集計されていません" in page


def test_the_log_health_page_answers_with_the_cache_down(root, cache_down) -> None:
    page = root.get("/admin/log/")
    assert page.status_code == 200 and "キャッシュ (Redis) に接続できない" in page.content.decode()


# --- manage.py loghealth -----------------------------------------------------------------------------


def test_loghealth_count_prints_the_figures_and_keeps_the_census(clock) -> None:
    looked()
    posts_at(NOW - timedelta(minutes=5), 2)
    out = io.StringIO()
    call_command("loghealth", "--count", stdout=out)
    assert "incoming: 3 event(s) waiting" in out.getvalue()  # its own look: the tick's saw none
    assert "LATEST's image:" not in out.getvalue()  # no snapshot yet
    assert "rollup: on time" in out.getvalue() and "the log is healthy" in out.getvalue()
    assert health.summary(get_log(), get_store()).census is not None


def test_loghealth_says_how_many_objects_latests_image_holds(clock) -> None:
    posts_at(NOW - timedelta(hours=3), 3)
    rolled(NOW)
    snapshot_and_bundle(get_log(), NOW)
    looked()
    out = io.StringIO()
    call_command("loghealth", "--count", stdout=out)
    assert re.search(r"LATEST's image: [1-9]\d* objects, which a restore copies", out.getvalue())


def test_loghealth_exits_1_when_the_rollup_is_late(clock) -> None:
    looked()
    clock.at = NOW - timedelta(hours=5)
    posts_at(NOW - timedelta(hours=5), 2)
    with pytest.raises(CommandError, match="^rollup late$"):
        call_command("loghealth", "--count", stdout=io.StringIO())


def test_loghealth_exits_1_when_no_tick_looked_at_the_log(clock) -> None:
    with pytest.raises(CommandError, match="^tick late$"):
        call_command("loghealth", "--count", stdout=io.StringIO())


def test_the_census_task_is_scheduled_by_beat(settings) -> None:
    from boards_site.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["health-census"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] == timedelta(seconds=settings.HEALTH_CENSUS_SECONDS)
