"""Moderation commands: deletions and archival are events applied like any other."""

import pytest
from django.core.management import CommandError, call_command

from board.log import get_log
from board.posting import refusals as r
from board.posting.commit import submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.store import get_store
from tests.helpers import log_keys, new_thread, reply


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
