"""The moderation site (Django's admin) through the test client: sign-in, permissions, every action."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from board.boards import UNLIMITED
from board.moderation import accounts
from board.moderation.actions import REASON_MAX, ModerationError
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import get_store
from tests.helpers import apply_pending, held_at_commit, log_keys, make_board, new_thread, reply, twice_at_once

PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def account(username: str, superuser: bool = False, boards=("test",)) -> None:
    apply(get_store(), accounts.create(username, PASSWORD, superuser=superuser, boards=boards))


def signed_in(username: str) -> Client:
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.5")
    page = client.get("/admin/login/").content.decode()
    token = TOKEN_RE.search(page).group(1)
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def store_down(*args, **kwargs):
    from board.store import StoreUnavailable

    raise StoreUnavailable("riak: no node answered")


def post(client: Client, url: str, page: str, **fields) -> object:
    token = TOKEN_RE.search(client.get(page).content.decode()).group(1)
    return client.post(url, {**fields, "csrfmiddlewaretoken": token})


@pytest.fixture
def moderated(board):
    account("mod", boards=("test",))
    account("root", superuser=True)
    thread = new_thread(body="最初", address="198.51.100.1").thread
    reply("test", thread, body="荒らし", address="198.51.100.66")
    reply("test", thread, body="普通", address="198.51.100.2")
    reply("test", thread, body="また荒らし", address="198.51.100.66")
    return thread


def test_the_admin_asks_anyone_not_signed_in_to_sign_in():
    response = Client().get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_moderator_signs_in_with_an_account_from_the_log(moderated):
    page = signed_in("mod").get("/admin/").content.decode()
    assert "/test/" in page and "モデレーション" in page


def test_a_wrong_password_does_not_sign_in(moderated):
    client = Client()
    response = client.post("/admin/login/", {"username": "mod", "password": "wrong password!"})
    assert response.status_code == 200 and client.get("/admin/").status_code == 302


def test_sign_in_is_throttled_after_repeated_failures(moderated, settings):
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "mod", "password": "wrong password!"})
    locked = client.post("/admin/login/", {"username": "mod", "password": PASSWORD})
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302, "even the right password does not get in while locked out"


def test_the_session_is_a_signed_cookie_and_nothing_is_kept_on_the_node(moderated, settings):
    client = signed_in("mod")
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies"
    assert client.cookies["sessionid"].value.count(":") >= 2  # signed data, not a key into a table


def test_deleting_a_post_with_a_reason_makes_it_abone_in_the_dat(moderated):
    client = signed_in("mod")
    page = f"/admin/threads/test/{moderated}/"
    response = post(
        client, "/admin/act/", page, board="test", thread=moderated, number="2", action="delete", reason="荒らし"
    )
    assert response.status_code == 302
    dat = Client().get(f"/test/dat/{moderated}.dat").content.decode("cp932").splitlines()
    assert dat[1].startswith("あぼーん<>あぼーん")


def test_an_action_without_a_reason_is_refused_and_does_nothing(moderated):
    client = signed_in("mod")
    page = f"/admin/threads/test/{moderated}/"
    post(client, "/admin/act/", page, board="test", thread=moderated, number="2", action="delete", reason="")
    [second] = queries.posts(get_store(), "test", moderated, [2])
    assert not second.get("deleted")


def test_every_post_of_an_id_is_deleted_at_once(moderated):
    [bad] = queries.posts(get_store(), "test", moderated, [2])
    client = signed_in("mod")
    page = f"/admin/threads/test/{moderated}/"
    post(
        client,
        "/admin/act/",
        page,
        board="test",
        thread=moderated,
        poster=bad["id"],
        action="delete_id",
        reason="荒らし",
    )
    posts = queries.posts(get_store(), "test", moderated, [1, 2, 3, 4])
    assert [bool(p.get("deleted")) for p in posts] == [False, True, False, True]


def test_a_moderator_cannot_act_on_a_board_not_theirs(moderated):
    make_board("news", "ニュース", **UNLIMITED)
    other = new_thread("news").thread
    client = signed_in("mod")
    assert client.get(f"/admin/threads/news/{other}/").status_code == 403
    response = post(
        client, "/admin/act/", "/admin/", board="news", thread=other, number="1", action="delete", reason="x"
    )
    assert response.status_code == 403
    assert not queries.posts(get_store(), "news", other, [1])[0].get("deleted")


def test_only_superusers_manage_boards_and_moderators(moderated):
    client = signed_in("mod")
    assert client.get("/admin/boards/").status_code == 403
    assert client.get("/admin/moderators/").status_code == 403
    assert signed_in("root").get("/admin/moderators/").status_code == 200


def test_a_superuser_changes_one_board_setting_and_the_others_stay(moderated):
    apply_pending()
    before = queries.board(get_store(), "test")
    client = signed_in("root")
    fields = {k: v for k, v in before.items() if k in ("title", "noname")} | {"reason": "調整"}
    fields |= {k: str(v) for k, v in before.items() if isinstance(v, int) and not isinstance(v, bool)}
    fields |= {k: "on" for k, v in before.items() if v is True}
    fields["res_max"] = "900"
    post(client, "/admin/boards/test/", "/admin/boards/test/", **fields)
    after = queries.board(get_store(), "test")
    assert after["res_max"] == 900 and after["cooldown"] == before["cooldown"]


def test_a_superuser_creates_a_moderator_who_can_then_sign_in(moderated):
    client = signed_in("root")
    post(client, "/admin/moderators/", "/admin/moderators/", username="newmod", password=PASSWORD, boards="test")
    assert accounts.get("newmod") is not None
    assert signed_in("newmod").get("/admin/").status_code == 200


def test_a_deactivated_moderator_is_signed_out(moderated):
    client = signed_in("mod")
    apply(get_store(), accounts.change("mod", "root", "退任", active=False))
    assert client.get("/admin/").status_code == 302


def test_a_moderator_who_changes_their_password_stays_signed_in_and_their_other_sessions_end(moderated):
    here, elsewhere = signed_in("mod"), signed_in("mod")
    response = post(here, "/admin/password/", "/admin/password/", old=PASSWORD, new="another long password")
    assert response.status_code == 302 and accounts.get("mod").check_password("another long password")
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_finding_posts_by_daily_id_and_text(moderated):
    [bad] = queries.posts(get_store(), "test", moderated, [2])
    client = signed_in("mod")
    by_id = client.get("/admin/posts/", {"id": bad["id"]}).content.decode()
    assert by_id.count('class="post-row"') == 2
    by_text = client.get("/admin/posts/", {"q": "普通"}).content.decode()
    assert by_text.count('class="post-row"') == 1


def test_the_audit_page_lists_who_did_what_and_why(moderated):
    client = signed_in("mod")
    page = f"/admin/threads/test/{moderated}/"
    post(client, "/admin/act/", page, board="test", thread=moderated, action="stop", reason="荒れている")
    audit = client.get("/admin/audit/").content.decode()
    assert "ThreadStopped" in audit and "荒れている" in audit and ">mod<" in audit


def test_the_first_superuser_comes_from_the_environment_once(monkeypatch):
    monkeypatch.setenv("UTAKATA_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("UTAKATA_ADMIN_PASSWORD", PASSWORD)
    call_command("createmoderator", "--from-env")
    call_command("createmoderator", "--from-env")  # a deploy script runs it on every start
    assert accounts.get("boss").is_superuser
    assert list(accounts.usernames()) == ["boss"]


@pytest.mark.parametrize("extra", [["someone"], ["--boards", "test"]])
def test_createmoderator_from_the_environment_refuses_what_it_would_ignore(monkeypatch, extra):
    monkeypatch.setenv("UTAKATA_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("UTAKATA_ADMIN_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="--from-env takes its superuser from UTAKATA_ADMIN_USERNAME"):
        call_command("createmoderator", "--from-env", *extra)
    assert list(accounts.usernames()) == []


def test_createmoderator_refuses_a_username_it_cannot_take_before_asking_for_a_password(monkeypatch):
    import getpass

    def asked(prompt):
        raise AssertionError("asked for a password for an account it would refuse")

    monkeypatch.setattr(getpass, "getpass", asked)
    with pytest.raises(CommandError, match="username 'bad name': use 1-32 ASCII letters and digits"):
        call_command("createmoderator", "bad name")
    assert list(accounts.usernames()) == []


def test_createmoderator_without_a_terminal_says_no_password_was_given_and_commits_nothing(monkeypatch):
    import getpass

    def no_terminal(prompt):
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    with pytest.raises(CommandError, match="no password given: run it in a terminal, or .* --from-env"):
        call_command("createmoderator", "mod")
    assert list(accounts.usernames()) == []


def test_the_first_superuser_with_the_store_down_says_so_and_exits_non_zero(monkeypatch):
    monkeypatch.setenv("UTAKATA_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("UTAKATA_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setattr(accounts, "get", store_down)
    with pytest.raises(CommandError, match="could not read the store, nothing was committed: riak"):
        call_command("createmoderator", "--from-env")


# --- reports (削除依頼) ------------------------------------------------------------------


def report(thread: str, number: int, reason: str = "個人情報です", address: str = "192.0.2.44"):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    page = f"/test/report/{thread}/{number}"
    token = TOKEN_RE.search(client.get(page).content.decode()).group(1)
    return client.post(page, {"reason": reason, "csrfmiddlewaretoken": token})


def test_a_reader_reports_a_post_from_its_page_without_an_account(moderated):
    thread_page = Client().get(f"/test/read.cgi/test/{moderated}/").content.decode()
    assert f'href="/test/report/{moderated}/2"' in thread_page
    assert "受け付けました" in report(moderated, 2).content.decode()
    apply_pending()
    page = signed_in("mod").get("/admin/reports/").content.decode()
    assert "個人情報です" in page and f"{moderated} &gt;&gt;2" in page


def test_a_report_reason_with_a_direction_control_is_refused_and_says_which(moderated):
    refused = report(moderated, 2, reason="個人情報\u202eです")
    assert refused.status_code == 400 and "U+202E" in refused.content.decode()


def test_a_report_reason_loses_its_control_and_invisible_characters(moderated):
    report(moderated, 2, reason="個人\x00情報\u200bです")
    apply_pending()
    page = signed_in("mod").get("/admin/reports/").content.decode()
    assert "個人情報です" in page


def test_the_report_page_answers_only_get_head_and_post(moderated):
    answered = {m: Client().generic(m, f"/test/report/{moderated}/2").status_code for m in ("OPTIONS", "PUT", "HEAD")}
    assert answered == {"OPTIONS": 405, "PUT": 405, "HEAD": 200}


def test_reporting_is_rate_limited_per_address(moderated):
    report(moderated, 2)
    second = report(moderated, 3)
    assert second.status_code == 400 and "連続" in second.content.decode()


def test_accepting_a_report_deletes_the_post_and_empties_the_queue(moderated):
    report(moderated, 2)
    apply_pending()
    client = signed_in("mod")
    from board.moderation.reports import open_reports

    [entry] = open_reports(["test"])
    post(client, "/admin/act/", "/admin/reports/", board="test", report=entry["id"], action="accept", reason="確認")
    assert queries.posts(get_store(), "test", moderated, [2])[0].get("deleted")
    assert "未処理の削除依頼はありません" in client.get("/admin/reports/").content.decode()


def test_dismissing_a_report_keeps_the_post(moderated):
    report(moderated, 3)
    apply_pending()
    client = signed_in("mod")
    from board.moderation.reports import open_reports

    [entry] = open_reports(["test"])
    post(
        client, "/admin/act/", "/admin/reports/", board="test", report=entry["id"], action="dismiss", reason="問題なし"
    )
    assert not queries.posts(get_store(), "test", moderated, [3])[0].get("deleted")
    assert open_reports(["test"]) == []


def test_a_report_dismissed_twice_at_once_is_resolved_once(moderated, monkeypatch):
    from board.moderation import actions
    from board.moderation.reports import open_reports, resolve

    report(moderated, 3)
    apply_pending()
    [entry] = open_reports(["test"])
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: resolve("test", entry["id"], False, "mod", "問題なし"))
    assert isinstance(second, ModerationError) and "はたった今実行されたか、実行中です" in str(second)
    assert len(log_keys()) == len(before) + 1


def test_two_moderators_deleting_a_post_at_once_delete_it_once_and_the_second_is_told_why(moderated, monkeypatch):
    from board.moderation import actions

    page = f"/admin/threads/test/{moderated}/"
    fields = {"board": "test", "thread": moderated, "number": "2", "action": "delete", "reason": "荒らし"}
    first, second = signed_in("mod"), signed_in("root")
    clients = iter([first, second])
    before = log_keys()
    twice_at_once(monkeypatch, actions, lambda: post(next(clients), "/admin/act/", page, **fields))
    assert "はたった今実行されたか、実行中です" in second.get(page).content.decode()
    assert "レスの削除：完了しました" in first.get(page).content.decode()
    assert len(log_keys()) == len(before) + 1


def test_a_deletion_the_store_could_not_apply_is_told_committed_not_failed(moderated, monkeypatch):
    from board.moderation import actions

    page = f"/admin/threads/test/{moderated}/"
    client = signed_in("mod")
    before = log_keys()
    monkeypatch.setattr(actions, "apply", store_down)
    fields = {"board": "test", "thread": moderated, "number": "2", "action": "delete", "reason": "荒らし"}
    assert post(client, "/admin/act/", page, **fields).status_code == 302
    monkeypatch.undo()
    shown = client.get(page).content.decode()
    assert "はログに記録されましたが、ストアにはまだ反映できませんでした" in shown
    assert len(log_keys()) == len(before) + 1


def test_an_action_with_the_store_down_is_told_nothing_was_committed(moderated, monkeypatch):
    page = f"/admin/threads/test/{moderated}/"
    client = signed_in("mod")
    before = log_keys()
    monkeypatch.setattr(queries, "thread", store_down)
    fields = {"board": "test", "thread": moderated, "action": "stop", "reason": "荒れている"}
    assert post(client, "/admin/act/", "/admin/", **fields).status_code == 302
    monkeypatch.undo()
    assert "ストアが応答しなかったため、何も記録していません：riak" in client.get(page).content.decode()
    assert log_keys() == before


# --- survives rehydrate ---------------------------------------------------------------------


def test_after_rehydrate_accounts_and_every_moderation_action_are_in_force(moderated):
    client = signed_in("root")
    page = f"/admin/threads/test/{moderated}/"
    post(client, "/admin/act/", page, board="test", thread=moderated, number="2", action="delete", reason="削除")
    post(client, "/admin/act/", page, board="test", thread=moderated, action="stop", reason="停止")
    post(client, "/admin/moderators/", "/admin/moderators/", username="later", password=PASSWORD, boards="test")
    report(moderated, 3)
    apply_pending()
    get_store().flush()
    call_command("rehydrate", "--no-progress", stdout=__import__("io").StringIO())
    assert signed_in("later").get("/admin/").status_code == 200
    assert queries.posts(get_store(), "test", moderated, [2])[0].get("deleted")
    assert queries.thread(get_store(), "test", moderated).stopped
    from board.moderation.reports import open_reports

    assert [r["number"] for r in open_reports(["test"])] == [3]


# --- caps and names ---------------------------------------------------------------------------


def posted_name(thread: str, number: int) -> tuple[str, str]:
    apply_pending()
    [p] = queries.posts(get_store(), "test", thread, [number])
    return p["name"], p["mail"]


def test_everything_after_a_hash_in_the_mail_field_is_never_shown(moderated):
    from board.posting.commit import submit
    from board.posting.validation import Submission

    posted = submit("test", moderated, Submission(body="x", mail="sage #password"), "192.0.2.70")
    assert posted_name(moderated, posted.number)[1] == "sage"
    dat = Client().get(f"/test/dat/{moderated}.dat").content.decode("cp932")
    assert "password" not in dat


def test_a_moderator_posts_with_a_cap_typed_in_the_mail_field(moderated):
    from board.posting.commit import submit
    from board.posting.validation import Submission

    apply(get_store(), accounts.change("mod", "root", "キャップ発行", cap=("削除人", "secret-cap-key")))
    posted = submit("test", moderated, Submission(name="山田", body="お知らせ", mail="#secret-cap-key"), "192.0.2.71")
    assert posted_name(moderated, posted.number) == ("山田＠削除人 ★", "")
    assert "secret-cap-key" not in str(accounts.get("mod")), "only the key's keyed hash is kept"


def test_a_staff_name_without_a_cap_is_refused(moderated):
    from board.posting import refusals as r
    from board.posting.commit import submit
    from board.posting.refusals import Refused
    from board.posting.validation import Submission

    with pytest.raises(Refused) as refused:
        submit("test", moderated, Submission(name="管理人", body="なりすまし"), "192.0.2.72")
    assert refused.value.message == r.STAFF_NAME
    with pytest.raises(Refused) as wrong_key:
        submit("test", moderated, Submission(name="運営です", body="x", mail="#not-a-cap-key"), "192.0.2.73")
    assert wrong_key.value.message == r.STAFF_NAME
    assert submit("test", moderated, Submission(name="偽", body="x", mail="#not-a-cap-key"), "192.0.2.74").number


def test_a_withdrawn_cap_or_a_deactivated_moderators_cap_opens_nothing(moderated):
    from board.moderation.caps import cap_name

    apply(get_store(), accounts.change("mod", "root", "発行", cap=("削除人", "secret-cap-key")))
    assert cap_name("secret-cap-key") == "削除人"
    apply(get_store(), accounts.change("mod", "root", "取消", cap=("", "")))
    assert cap_name("secret-cap-key") is None
    apply(get_store(), accounts.change("mod", "root", "再発行", cap=("削除人", "another-cap-key")))
    apply(get_store(), accounts.change("mod", "root", "退任", active=False))
    assert cap_name("another-cap-key") is None


def test_a_board_setting_with_a_newline_is_refused(moderated):
    # A newline in noname split every nameless post's dat line in two.
    from board.moderation.boards import save_board

    with pytest.raises(ModerationError, match="noname にページや dat の行に使えない文字が含まれています：U\\+000A"):
        save_board("test", {"noname": "X<>Y\nZ"}, "root", "r")
    assert queries.board(get_store(), "test")["noname"] != "X<>Y\nZ"


def test_a_cap_name_with_a_newline_or_a_star_or_too_long_is_refused(moderated):
    for name in ("削除\n人", "★管理人", "長" * 33):
        with pytest.raises(accounts.AccountError):
            accounts.change("mod", "root", "キャップ発行", cap=(name, "secret-cap-key"))


def test_a_moderators_reason_is_cleaned_and_bounded(moderated):
    from board.moderation.actions import REASON_MAX, stop_thread

    with pytest.raises(ModerationError, match="最大500文字"):
        stop_thread("test", moderated, "r" * (REASON_MAX + 1), "mod")
    with pytest.raises(ModerationError, match="U\\+202E"):
        stop_thread("test", moderated, "荒らし\u202e", "mod")
    assert stop_thread("test", moderated, "荒ら\x00し\u200b対策", "mod").payload["reason"] == "荒らし対策"


@pytest.mark.parametrize("action", ["close", "reopen"])
def test_a_moderator_cannot_close_or_reopen_their_board(moderated, action):
    client = signed_in("mod")
    response = post(client, "/admin/act/", "/admin/", board="test", action=action, reason="x")
    assert response.status_code == 403
    assert not queries.board(get_store(), "test")["closed"]


def test_an_action_on_a_thread_key_that_is_not_one_is_refused_not_a_500(moderated):
    client = signed_in("root")
    response = post(client, "/admin/act/", "/admin/", board="test", thread="../../x", action="stop", reason="r")
    assert response.status_code == 302


def test_the_board_form_names_each_setting_in_japanese_beside_its_key(moderated):
    html = signed_in("root").get("/admin/boards/test/").content.decode()
    assert "連続投稿の待ち時間（秒）</label> <code>cooldown</code>" in html


def test_the_board_forms_rules_are_a_box_of_lines_kept_with_lf(moderated):
    client = signed_in("root")
    assert '<textarea id="f-rules" name="rules"' in client.get("/admin/boards/test/").content.decode()
    post(client, "/admin/boards/test/", "/admin/boards/test/", rules="一行目\r\n二行目", force_id="on", reason="r")
    assert queries.board(get_store(), "test")["rules"] == "一行目\n二行目"


def test_a_refused_board_form_comes_back_with_what_was_typed(moderated):
    client = signed_in("root")
    typed = {"cooldown": "abc", "noname": "新しい名無し", "rules": "書きかけのルール", "reason": "変更の理由"}
    html = post(client, "/admin/boards/test/", "/admin/boards/test/", **typed).content.decode()
    assert "Cooldown は整数にしてください" in html
    assert 'value="abc"' in html and 'value="新しい名無し"' in html and 'value="変更の理由"' in html
    assert "書きかけのルール</textarea>" in html


def test_a_refused_account_form_comes_back_with_what_was_typed_but_the_password(moderated):
    client = signed_in("root")
    typed = {"username": "newcomer", "password": "short", "boards": "test"}
    html = post(client, "/admin/moderators/", "/admin/moderators/", **typed).content.decode()
    assert "パスワードは10文字以上" in html
    assert 'name="username" required maxlength="32" value="newcomer"' in html
    assert 'value="test" checked' in html and 'value="short"' not in html


def test_a_reason_field_takes_as_many_characters_as_an_action_keeps(moderated):
    html = signed_in("mod").get(f"/admin/threads/test/{moderated}/").content.decode()
    assert f'name="reason" placeholder="理由 (必須)" required maxlength="{REASON_MAX}"' in html


@pytest.mark.parametrize("value", ["abc", "9" * 5000], ids=["letters", "5000 digits"])
def test_a_board_setting_that_is_not_a_number_is_an_error_message_not_a_500(moderated, value):
    client = signed_in("root")
    response = post(client, "/admin/boards/test/", "/admin/boards/test/", cooldown=value, reason="r")
    # The admin's message list capitalises the message.
    assert response.status_code == 200 and "Cooldown は整数にしてください" in response.content.decode()


def test_the_new_board_form_does_not_overwrite_a_board_of_that_name(moderated):
    client = signed_in("root")
    before = queries.board(get_store(), "test")
    response = post(client, "/admin/boards/new/", "/admin/boards/new/", name="test", title="上書き", reason="r")
    assert "はすでにあります" in response.content.decode()
    assert queries.board(get_store(), "test") == before


def test_a_report_resolved_already_is_not_resolved_again(moderated):
    from board.moderation.reports import open_reports, resolve

    report(moderated, 3)
    apply_pending()
    [entry] = open_reports(["test"])
    apply(get_store(), resolve("test", entry["id"], accept=False, by="mod", reason="問題なし")[-1])
    with pytest.raises(ModerationError, match="すでに却下されています"):
        resolve("test", entry["id"], accept=True, by="mod", reason="やはり削除")
    assert not queries.posts(get_store(), "test", moderated, [3])[0].get("deleted")


@pytest.mark.parametrize("report_id", ["", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"])
def test_a_malformed_report_id_is_no_such_report(moderated, report_id):
    from board.moderation.reports import resolve

    with pytest.raises(ModerationError, match="削除依頼 .* はありません"):
        resolve("test", report_id, accept=True, by="mod")


@pytest.mark.parametrize("number", ["1e3", "٣", "9" * 5000], ids=["float", "arabic-indic digit", "5000 digits"])
def test_a_post_number_that_is_not_one_is_a_plain_message(moderated, number):
    client = signed_in("mod")
    page = f"/admin/threads/test/{moderated}/"
    post(client, "/admin/act/", page, board="test", thread=moderated, number=number, action="delete", reason="r")
    shown = client.get(page).content.decode()
    assert "レス番号は整数です" in shown.lower() and "literal" not in shown.lower()
    assert not queries.posts(get_store(), "test", moderated, [3])[0].get("deleted")


def test_a_moderators_boards_must_be_board_names(moderated):
    with pytest.raises(accounts.AccountError, match="板名ではありません"):
        accounts.create("newmod", PASSWORD, boards=["test", "<script>", "ニュース"])


def test_a_moderators_boards_must_be_boards_of_the_site(moderated):
    with pytest.raises(accounts.AccountError, match="その板はありません：/nosuch/"):
        accounts.create("newmod", PASSWORD, boards=["test", "nosuch"])
    with pytest.raises(accounts.AccountError, match="その板はありません：/nosuch/"):
        accounts.change("mod", "root", "担当替え", boards=["test", "nosuch"])
    assert accounts.get("newmod") is None and accounts.get("mod").boards == {"test"}


def test_a_purged_account_cannot_be_made_active_again(moderated):
    from board.moderation.purge import purge_account

    apply(get_store(), purge_account("mod", "退任", "root"))
    client = signed_in("root")
    page = "/admin/moderators/mod/"
    response = post(client, page, page, boards="test", active="on", password="a new long password", reason="復帰")
    assert "アカウント &#x27;mod&#x27; はパージ済みです：再び有効にはできません" in response.content.decode().lower()
    assert not accounts.get("mod").is_active


def test_a_superuser_cannot_demote_or_deactivate_themselves(moderated):
    for change in ({"superuser": False}, {"active": False}):
        with pytest.raises(accounts.AccountError, match="自分のスーパーユーザー権限"):
            accounts.change("root", "root", "うっかり", **change)
    assert accounts.get("root").is_superuser and accounts.get("root").is_active


def test_a_password_past_256_characters_is_refused(moderated):
    with pytest.raises(accounts.AccountError, match="256文字以下"):
        accounts.create("newmod", "x" * 100_000)


def test_an_account_created_twice_at_once_is_created_once_and_the_second_is_told_why(board, monkeypatch):
    from board.moderation import actions

    passwords = iter(["first password here", "second password here"])
    before = log_keys()
    second = twice_at_once(monkeypatch, actions, lambda: accounts.create("twin", next(passwords), boards=["test"]))
    assert isinstance(second, ModerationError) and "アカウントの変更 twin はたった今実行されたか、実行中です" in str(
        second
    )
    assert len(log_keys()) == len(before) + 1
    assert accounts.get("twin").check_password("first password here")  # the account its creator was told of


def test_an_account_changed_while_it_is_purged_is_refused_not_made_active_again(board, monkeypatch):
    from board.moderation import purge

    account("root", superuser=True)
    account("gone")
    purging = lambda: purge.purge_account("gone", "漏洩", "root")  # noqa: E731
    refused = pytest.raises(ModerationError, match="アカウントの変更 gone はたった今実行されたか、実行中です")
    with held_at_commit(monkeypatch, purge, purging), refused:
        accounts.change("gone", "root", "復帰", active=True)
    assert not accounts.get("gone").is_active


def test_the_first_superuser_from_the_environment_of_two_containers_at_once_is_one_account(monkeypatch):
    from io import StringIO

    from board.moderation import actions

    monkeypatch.setenv("UTAKATA_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("UTAKATA_ADMIN_PASSWORD", PASSWORD)
    out = StringIO()
    other = lambda: call_command("createmoderator", "--from-env", stdout=StringIO())  # noqa: E731
    with held_at_commit(monkeypatch, actions, other, release_after=0.3):
        call_command("createmoderator", "--from-env", stdout=out)  # waits out the other's claim, not refused
    assert "account boss exists; left as it is" in out.getvalue()
    assert list(accounts.usernames()) == ["boss"]
