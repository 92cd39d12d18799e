"""Moderation commands: deletions and archival are events applied like any other."""

import pytest
from django.core.management import CommandError, call_command

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
