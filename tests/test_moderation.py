"""Moderation commands: deletions and archival are events applied like any other."""

import re
from datetime import date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from board.boards import DEFAULTS, UNLIMITED
from board.events import EventType, decode, new_event
from board.formats.dates import JST
from board.log import get_log
from board.management.moderation import COMMITTED_NOT_APPLIED
from board.posting import refusals as r
from board.posting.commit import commit, submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import boardcache, projection, queries
from board.store import get_store
from tests.helpers import apply_pending, log_keys, new_thread, reply, twice_at_once


def test_deletepost_tombstones_the_post(board):
    thread = new_thread().thread
    reply("test", thread, body="消される")
    call_command("deletepost", "test", thread, "2", "--reason", "spam")
    [post] = queries.posts(get_store(), "test", thread, [2])
    assert post["deleted"] and "body" not in post


def test_deletepost_of_a_missing_number_is_an_error_and_writes_nothing(board):
    thread = new_thread().thread
    before = log_keys()
    with pytest.raises(CommandError, match="has posts 1..1"):
        call_command("deletepost", "test", thread, "5")
    assert log_keys() == before


def test_deletepost_with_one_missing_number_among_several_deletes_none(board):
    thread = new_thread().thread
    reply("test", thread, body="消される")
    before = log_keys()
    with pytest.raises(CommandError, match="has posts 1..2, not 9"):
        call_command("deletepost", "test", thread, "2", "9")
    assert log_keys() == before
    assert not queries.posts(get_store(), "test", thread, [2])[0].get("deleted")


def test_deletepost_given_a_number_twice_deletes_it_once(board):
    thread = new_thread().thread
    reply("test", thread, body="消される")
    call_command("deletepost", "test", thread, "2", "2")
    assert queries.posts(get_store(), "test", thread, [2])[0]["deleted"]


def _store_down(*args, **kwargs):
    from board.store import StoreUnavailable

    raise StoreUnavailable("riak: no node answered")


def test_deletepost_with_the_store_down_says_nothing_was_committed_and_exits_non_zero(board, monkeypatch):
    thread = new_thread().thread
    before = log_keys()
    monkeypatch.setattr(queries, "thread", _store_down)
    with pytest.raises(CommandError, match="could not read the store, nothing was committed: riak"):
        call_command("deletepost", "test", thread, "1")
    assert log_keys() == before


def test_deletepost_whose_store_fails_after_the_commit_says_it_is_committed_and_exits_3(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    monkeypatch.setattr(actions, "apply", _store_down)
    said = StringIO()
    with pytest.raises(CommandError, match="1 of 1 committed to the log but not applied yet") as raised:
        call_command("deletepost", "test", thread, "1", stderr=said)
    assert raised.value.returncode == COMMITTED_NOT_APPLIED
    assert re.search("PostDeleted .* is committed to the log, but the store could not apply", said.getvalue())
    events = [decode(get_log().read(k)) for k in log_keys() if k.startswith("incoming/events/")]
    assert events[-1].type == EventType.POST_DELETED


def test_deletepost_of_several_posts_with_the_store_failing_after_each_commit_commits_every_one(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    for n in (2, 3):
        reply("test", thread, body=f"消される{n}")
    monkeypatch.setattr(actions, "apply", _store_down)
    with pytest.raises(CommandError, match="3 of 3 committed") as raised:
        call_command("deletepost", "test", thread, "1", "2", "3", stderr=StringIO())
    assert raised.value.returncode == COMMITTED_NOT_APPLIED
    events = [decode(get_log().read(k)) for k in log_keys() if k.startswith("incoming/events/")]
    assert sorted(e.number for e in events if e.type == EventType.POST_DELETED) == [1, 2, 3]


def test_archivethread_whose_store_fails_after_the_commit_exits_3(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    monkeypatch.setattr(actions, "apply", _store_down)
    with pytest.raises(CommandError, match="ThreadArchived .* is committed to the log") as raised:
        call_command("archivethread", "test", thread)
    assert raised.value.returncode == COMMITTED_NOT_APPLIED


def test_a_refused_deletion_exits_1(board):
    with pytest.raises(CommandError) as raised:
        call_command("deletepost", "test", "1234567890", "1")
    assert raised.value.returncode == 1


def test_createboard_with_the_store_down_says_so_and_exits_non_zero(monkeypatch):
    monkeypatch.setattr(queries, "board", _store_down)
    for extra in ([], ["--if-missing"]):
        with pytest.raises(CommandError, match="could not read the store, nothing was committed: riak"):
            call_command("createboard", "news", "ニュース", *extra)
    assert log_keys() == []


def test_deleting_a_deleted_post_again_is_an_error_and_writes_nothing(board):
    thread = new_thread().thread
    reply("test", thread, body="消される")
    call_command("deletepost", "test", thread, "2", "--reason", "spam")
    before = log_keys()
    with pytest.raises(CommandError, match="deleted already"):
        call_command("deletepost", "test", thread, "2", "--reason", "spam")
    assert log_keys() == before


def test_banning_a_banned_id_again_is_an_error_and_writes_nothing(board):
    thread = new_thread(address="198.51.100.20").thread
    reply("test", thread, address="198.51.100.20")
    call_command("banposter", "test", thread, "1", "--reason", "荒らし")
    before = log_keys()
    with pytest.raises(CommandError, match=r"banned on /test/ for \S+ already"):
        call_command("banposter", "test", thread, "2", "--reason", "荒らし")  # the same ID, the same day
    assert log_keys() == before


def test_a_post_deleted_twice_at_once_is_deleted_once(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    reply("test", thread, body="消される")
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: actions.delete_post("test", thread, 2, "荒らし", "mod"))
    assert isinstance(second, actions.ModerationError)
    assert f"レスの削除 test/{thread}/2 はたった今実行されたか、実行中です" in str(second)
    assert len(log_keys()) == len(before) + 1


def test_a_thread_stopped_twice_at_once_is_stopped_once(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: actions.stop_thread("test", thread, "荒れている", "mod"))
    assert isinstance(second, actions.ModerationError)
    assert f"スレッドストップ test/{thread} はたった今実行されたか、実行中です" in str(second)
    assert len(log_keys()) == len(before) + 1


def test_an_id_banned_twice_at_once_is_banned_once(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread(address="198.51.100.20").thread
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: actions.ban_poster("test", thread, 1, "荒らし", "mod"))
    assert isinstance(second, actions.ModerationError)
    assert len(log_keys()) == len(before) + 1


def test_a_thread_stopped_resumed_and_stopped_again_at_once_is_each_time_done(board):
    from board.moderation import actions

    thread = new_thread().thread
    actions.stop_thread("test", thread, "荒れている", "mod")
    actions.resume_thread("test", thread, "落ち着いた", "mod")
    actions.stop_thread("test", thread, "また荒れた", "mod")  # its claim let go once the first stop was applied
    assert queries.thread(get_store(), "test", thread).stopped


def test_the_same_action_again_once_the_first_is_done_is_refused_by_the_store_saying_why(board):
    from board.moderation import actions

    thread = new_thread().thread
    actions.stop_thread("test", thread, "荒れている", "mod")
    with pytest.raises(actions.ModerationError, match="はすでにストップしています"):
        actions.stop_thread("test", thread, "荒れている", "root")


def test_an_action_the_store_could_not_apply_keeps_its_claim_while_the_workers_apply_it(board, monkeypatch):
    from board.moderation import actions

    thread = new_thread().thread
    with monkeypatch.context() as m:
        m.setattr(actions, "apply", _store_down)
        with pytest.raises(actions.NotApplied, match="ThreadStopped .* はログに記録されましたが"):
            actions.stop_thread("test", thread, "荒れている", "mod")
    before = log_keys()
    with pytest.raises(actions.ModerationError, match="はたった今実行されたか、実行中です"):
        actions.stop_thread("test", thread, "荒れている", "root")  # the store does not show the first yet
    assert log_keys() == before


def test_an_action_goes_on_without_its_claim_when_the_cache_is_down(board, monkeypatch):
    from redis.exceptions import ConnectionError

    from board.lib.lease import Lease
    from board.moderation import actions

    def down(self, token=None):
        raise ConnectionError("redis is down")

    thread = new_thread().thread
    before = log_keys()
    monkeypatch.setattr(Lease, "take", down)
    assert actions.stop_thread("test", thread, "荒れている", "mod").type == EventType.THREAD_STOPPED
    assert len(log_keys()) == len(before) + 1


def test_archivethread_makes_the_thread_read_only(board):
    thread = new_thread().thread
    call_command("archivethread", "test", thread)
    assert queries.thread(get_store(), "test", thread).archived


def test_banposter_refuses_the_authors_next_post_that_day(board):
    thread = new_thread(address="198.51.100.20").thread
    reply("test", thread, address="198.51.100.20")
    call_command("banposter", "test", thread, "2")
    before = log_keys()
    with pytest.raises(Refused) as refusal:
        submit("test", thread, Submission(body="また来た"), "198.51.100.20")
    assert refusal.value.message == r.BANNED
    assert log_keys() == before


def test_a_ban_leaves_other_posters_alone(board):
    thread = new_thread(address="198.51.100.20").thread
    call_command("banposter", "test", thread, "1")
    assert reply("test", thread, address="198.51.100.21").number == 2


def test_a_ban_names_the_daily_id_not_the_address(board):
    thread = new_thread(address="198.51.100.20").thread
    call_command("banposter", "test", thread, "1")
    [key] = [k for k in log_keys() if k.startswith("incoming/events/")][-1:]
    assert "198.51.100.20" not in get_log().read(key).decode()


# --- boards: created once, changed setting by setting ----------------------------------------


def test_changing_one_setting_keeps_the_others():
    call_command("createboard", "news", "ニュース", "--set", "cooldown=30", "--set", "thread_cap=50")
    call_command("createboard", "news", "ニュース", "--set", "res_max=900")
    board = queries.board(get_store(), "news")
    assert (board["cooldown"], board["thread_cap"], board["res_max"]) == (30, 50, 900)


def test_a_settings_change_is_its_own_event_naming_only_what_changed():
    call_command("createboard", "news", "ニュース", "--set", "cooldown=30")
    call_command("createboard", "news", "ニュース速報", "--set", "res_max=900")
    events = [decode(get_log().read(k)) for k in log_keys() if k.startswith("incoming/events/")]
    change = events[-1]
    assert change.type == "BoardSettingsChanged"
    assert {k: v for k, v in change.payload.items() if k not in ("by", "reason")} == {
        "title": "ニュース速報",
        "res_max": 900,
    }


def test_an_old_logs_board_created_again_still_resets_on_replay():
    from board.events import EventType, new_event
    from board.readmodel.projection import apply

    store = get_store()
    apply(store, new_event(EventType.BOARD_CREATED, "old", payload={"title": "旧", "cooldown": 30}))
    apply(store, new_event(EventType.BOARD_CREATED, "old", payload={"title": "旧", "res_max": 900}))
    board = queries.board(store, "old")
    assert (board["cooldown"], board["res_max"]) == (10, 900), "what a second BoardCreated always meant"


def test_a_boolean_for_a_number_setting_is_refused_and_writes_nothing():
    before = log_keys()
    with pytest.raises(CommandError, match="'true' is not a whole number"):
        call_command("createboard", "news", "ニュース", "--set", "cooldown=true")
    assert log_keys() == before


@pytest.mark.parametrize("title", ["", "   "])
def test_an_empty_title_for_an_existing_board_is_refused_and_writes_nothing(title):
    from tests.helpers import make_board

    make_board("news", "ニュース", **UNLIMITED)
    before = log_keys()
    with pytest.raises(CommandError, match="title is empty"):
        call_command("createboard", "news", title)
    assert log_keys() == before
    assert queries.board(get_store(), "news")["title"] == "ニュース"


@pytest.mark.parametrize("name", ["admin", "static", "test", "healthz", "readyz", "metrics", "new"])
def test_board_names_of_the_sites_own_paths_are_refused(name):
    with pytest.raises(CommandError, match="site's own paths"):
        call_command("createboard", name, "衝突")


def test_a_closed_board_refuses_posts_and_reopens():
    from board.moderation.boards import close_board, reopen_board
    from tests.helpers import apply_pending, make_board

    make_board("news", "ニュース", **UNLIMITED)
    thread = new_thread("news").thread
    close_board("news", reason="移転")
    apply_pending()
    with pytest.raises(Refused) as refusal:
        submit("news", thread, Submission(body="閉鎖中"), "192.0.2.1")
    assert refusal.value.message == r.BOARD_CLOSED
    reopen_board("news")
    apply_pending()
    assert reply("news", thread).number == 2


@pytest.mark.parametrize("action", ["close", "reopen"])
def test_closing_a_closed_board_or_reopening_an_open_one_is_refused_saying_so(action):
    from board.moderation import actions
    from board.moderation.boards import close_board, reopen_board
    from tests.helpers import apply_pending, make_board

    make_board("news", "ニュース", **UNLIMITED)
    if action == "close":
        close_board("news")
        apply_pending()
    before = log_keys()
    with pytest.raises(
        actions.ModerationError, match=f"/news/ はすでに{'閉鎖されて' if action == 'close' else '開いて'}います"
    ):
        (close_board if action == "close" else reopen_board)("news")
    assert log_keys() == before


# --- threads: stopped, archived and restored ------------------------------------------------


def test_a_stopped_thread_refuses_posts_until_resumed(board):
    from board.moderation.actions import resume_thread, stop_thread
    from tests.helpers import apply_pending

    thread = new_thread().thread
    stop_thread("test", thread, reason="荒れたため")
    apply_pending()
    with pytest.raises(Refused) as refusal:
        submit("test", thread, Submission(body="x"), "192.0.2.1")
    assert refusal.value.message == r.THREAD_STOPPED
    assert not queries.thread(get_store(), "test", thread).archived, "a stopped thread stays live"
    resume_thread("test", thread)
    apply_pending()
    assert reply("test", thread).number == 2


def test_a_thread_restored_after_its_archival_was_rolled_up_takes_the_next_number(board):
    from datetime import UTC, datetime, timedelta

    from board.lifecycle.rollup import rollup
    from board.moderation.actions import restore_thread
    from tests.helpers import apply_pending

    thread = new_thread().thread
    reply("test", thread)
    call_command("archivethread", "test", thread)
    rollup(get_log(), get_store(), now=datetime.now(UTC) + timedelta(hours=2))
    assert not [k for k in log_keys() if f"/{thread}/" in k], "the archival's rollup removed its claims"
    restore_thread("test", thread, reason="誤って倉庫入り")
    apply_pending()
    assert not queries.thread(get_store(), "test", thread).archived
    assert [t.key for t in queries.threads(get_store(), "test")] == [thread]
    assert reply("test", thread).number == 3


def test_lifting_a_ban_lets_the_id_post_again(board):
    from board.moderation.actions import lift_ban
    from board.posting.poster_id import jst_day
    from tests.helpers import apply_pending

    thread = new_thread(address="198.51.100.20").thread
    call_command("banposter", "test", thread, "1")
    [post] = queries.posts(get_store(), "test", thread, [1])
    lift_ban("test", post["id"], jst_day(post["time"]).isoformat(), reason="誤爆")
    apply_pending()
    assert reply("test", thread, address="198.51.100.20").number == 2


def test_deleting_every_post_of_an_id_in_a_thread(board):
    from board.moderation.actions import delete_posts_of
    from tests.helpers import apply_pending

    thread = new_thread(address="198.51.100.20").thread
    reply("test", thread, address="198.51.100.21")
    reply("test", thread, address="198.51.100.20")
    [first] = queries.posts(get_store(), "test", thread, [1])
    deleted = delete_posts_of("test", thread, first["id"], reason="荒らし")
    apply_pending()
    assert [e.number for e in deleted] == [1, 3]
    posts = queries.posts(get_store(), "test", thread, [1, 2, 3])
    assert [bool(p.get("deleted")) for p in posts] == [True, False, True]


def _three_posts_of_one_id() -> tuple[str, str]:
    thread = new_thread(address="198.51.100.20").thread
    reply("test", thread, address="198.51.100.21")
    reply("test", thread, address="198.51.100.20")
    reply("test", thread, address="198.51.100.20")
    [first] = queries.posts(get_store(), "test", thread, [1])
    return thread, first["id"]


def test_deleting_an_ids_posts_leaves_one_another_moderator_is_deleting_to_them(board):
    from board.moderation import actions

    thread, poster = _three_posts_of_one_id()
    with actions.only_once("delete", "test", thread, 3):
        deleted = actions.delete_posts_of("test", thread, poster, reason="荒らし")
    assert [e.number for e in deleted] == [1, 4]


def test_deleting_an_ids_posts_that_stops_partway_says_which_are_deleted_and_which_are_not(board, monkeypatch):
    from board.moderation import actions

    thread, poster = _three_posts_of_one_id()
    apply, calls = actions.apply, []

    def fails_from_the_second(store, event):
        calls.append(event)
        if len(calls) >= 2:
            _store_down()
        apply(store, event)

    before = log_keys()
    monkeypatch.setattr(actions, "apply", fails_from_the_second)
    with pytest.raises(actions.ModerationError) as refused:
        actions.delete_posts_of("test", thread, poster, reason="荒らし")
    said = str(refused.value)
    assert f"test/{thread} の ID:{poster} のレス 1, 3 は削除しました（ログに記録済み）。レス 4 は" in said
    assert len(log_keys()) == len(before) + 2


def test_every_moderation_event_says_who_and_why(board):
    thread = new_thread().thread
    call_command("deletepost", "test", thread, "1", "--reason", "spam")
    [key] = [k for k in log_keys() if k.startswith("incoming/events/")][-1:]
    payload = decode(get_log().read(key)).payload
    assert (payload["by"], payload["reason"]) == ("operator", "spam")


# --- the audit trail --------------------------------------------------------------------------


def stopped_at(thread: str, when: datetime, reason: str) -> None:
    from board.readmodel.projection import apply

    payload = {"by": "mod", "reason": reason}
    apply(get_store(), new_event(EventType.THREAD_STOPPED, "test", thread, payload=payload, at=when))


def test_a_days_actions_are_kept_by_the_hour_and_listed_together_newest_first(board):
    from board.moderation import audit
    from board.readmodel import objects as o

    thread = new_thread().thread
    stopped_at(thread, datetime(2026, 12, 7, 9, 5, tzinfo=JST), "朝")
    stopped_at(thread, datetime(2026, 12, 7, 21, 40, tzinfo=JST), "夜")
    kept = [key for bucket, key, _ in get_store().items() if bucket == o.AUDIT]
    assert [key.split("/")[0] for key in kept] == ["2026120709", "2026120721"]
    assert [a["reason"] for a in audit.actions(date(2026, 12, 7))] == ["夜", "朝"]
    assert audit.actions(date(2026, 12, 8)) == []


@pytest.mark.parametrize("key", ["20261207", "2026120708"])  # a day's object, then an hour's
def test_actions_kept_under_the_keys_of_earlier_versions_are_listed(board, key):
    from board.moderation import audit
    from board.readmodel import objects as o
    from board.readmodel.moderation import audit_entry
    from board.readmodel.projection import write

    thread = new_thread().thread
    earlier = new_event(
        EventType.THREAD_STOPPED,
        "test",
        thread,
        payload={"by": "mod", "reason": "前"},
        at=datetime(2026, 12, 7, 8, tzinfo=JST),
    )
    write(get_store(), o.AUDIT, key, {"actions": {earlier.id: audit_entry(earlier)}})
    stopped_at(thread, datetime(2026, 12, 7, 20, 0, tzinfo=JST), "後")
    assert [a["reason"] for a in audit.actions(date(2026, 12, 7))] == ["後", "前"]


def test_a_board_created_twice_at_once_is_created_once_and_the_second_is_told_why(monkeypatch):
    from board.moderation import actions
    from board.moderation.boards import save_board

    before = log_keys()
    settings = iter([{"title": "一人目の板"}, {"title": "二人目の板"}])
    second = twice_at_once(monkeypatch, actions, lambda: save_board("twice", next(settings), "root", "新設"))
    assert isinstance(second, actions.ModerationError)
    assert "板の変更 twice はたった今実行されたか、実行中です" in str(second)
    assert len(log_keys()) == len(before) + 1
    assert queries.board(get_store(), "twice")["title"] == "一人目の板"  # the first creator's board, as they were told


def test_a_board_closed_twice_at_once_is_closed_once(monkeypatch):
    from board.moderation import actions
    from board.moderation.boards import close_board
    from tests.helpers import make_board

    make_board("news", "ニュース", **UNLIMITED)
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: close_board("news", "root", "移転"))
    assert isinstance(second, actions.ModerationError)
    assert len(log_keys()) == len(before) + 1


def test_a_board_change_the_store_could_not_apply_is_told_committed_and_keeps_its_claim(monkeypatch):
    from board.moderation import actions
    from board.moderation.boards import save_board
    from tests.helpers import make_board

    make_board("news", "ニュース", **UNLIMITED)
    with monkeypatch.context() as m:
        m.setattr(actions, "apply", _store_down)
        with pytest.raises(actions.NotApplied, match="BoardSettingsChanged .* はログに記録されましたが"):
            save_board("news", {"title": "新ニュース"}, "root", "改名")
    before = log_keys()
    with pytest.raises(actions.ModerationError, match="はたった今実行されたか、実行中です"):
        save_board("news", {"title": "新ニュース"}, "root", "改名")  # the store does not show the first yet
    assert log_keys() == before


def test_createboard_if_missing_in_two_containers_at_once_makes_one_board(monkeypatch):
    from board.moderation import actions
    from tests.helpers import held_at_commit

    out = StringIO()
    other = lambda: call_command("createboard", "news", "ニュース", "--if-missing", stdout=StringIO())  # noqa: E731
    with held_at_commit(monkeypatch, actions, other, release_after=0.3):
        call_command("createboard", "news", "ニュース", "--if-missing", stdout=out)  # waits out the other's claim
    assert "board /news/ exists; left as it is" in out.getvalue()
    assert [b["name"] for b in queries.all_boards(get_store())] == ["news"]


def test_a_board_setting_a_newer_version_wrote_is_left_out_when_read(board, monkeypatch):
    # During a rolling deploy the older web nodes read a store the newer workers apply to.
    monkeypatch.setattr(projection, "DEFAULTS", {**DEFAULTS, "from_a_newer_version": ""})
    commit(new_event(EventType.BOARD_SETTINGS_CHANGED, "test", payload={"from_a_newer_version": "x", "cooldown": 7}))
    apply_pending()
    boardcache.forget()
    settings = queries.board(get_store(), "test")
    assert settings["cooldown"] == 7 and "from_a_newer_version" not in settings
