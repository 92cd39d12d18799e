"""Range bans (アク禁): networks refused at posting, per deployment and per board, no address stored."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from board.boards import UNLIMITED
from board.posting import refusals as r
from board.readmodel import queries
from board.store import get_store
from tests import services
from tests.helpers import make_board, new_thread, refused, reply


def test_a_poster_in_the_deployments_banned_ranges_is_refused_saying_so(board, settings):
    settings.BANNED_RANGES = "203.0.113.0/24, 198.51.100.0/25"
    thread = new_thread(address="192.0.2.1").thread
    assert refused("test", thread, address="203.0.113.77", body="荒らし").message == r.RANGE_BANNED
    assert refused("test", None, address="198.51.100.5", subject="x", body="y").message == r.RANGE_BANNED


def test_a_poster_outside_the_banned_ranges_posts(board, settings):
    settings.BANNED_RANGES = "198.51.100.0/25"
    thread = new_thread(address="192.0.2.1").thread
    assert reply("test", thread, address="198.51.100.200").number == 2


def test_a_boards_banned_ranges_refuse_on_that_board_only():
    make_board("test", "テスト板", **(UNLIMITED | {"banned_ranges": "203.0.113.0/24"}))
    make_board("news", "ニュース", **UNLIMITED)
    assert refused("test", None, address="203.0.113.9", subject="x", body="y").message == r.RANGE_BANNED
    assert new_thread("news", address="203.0.113.9").number == 1


def test_an_ipv6_range_bans_every_64_inside_it(board, settings):
    settings.BANNED_RANGES = "2001:db8:aa::/48"
    # Addresses reach the write path as the board counts them: an IPv6 poster by its /64.
    assert refused("test", None, address="2001:db8:aa:1::", subject="x", body="y").message == r.RANGE_BANNED
    assert new_thread(address="2001:db8:ab:1::").number == 1


def test_a_range_ban_is_set_by_createboard_and_stores_only_the_range():
    call_command("createboard", "news", "ニュース", "--set", "banned_ranges=203.0.113.0/24 2001:db8::/32")
    assert queries.board(get_store(), "news")["banned_ranges"] == "203.0.113.0/24 2001:db8::/32"


def test_createboard_refuses_a_range_that_is_not_one():
    with pytest.raises(CommandError, match="'203.0.113.0/33' is not an address range"):
        call_command("createboard", "news", "ニュース", "--set", "banned_ranges=203.0.113.0/33")


def test_createboard_refuses_an_ipv6_range_narrower_than_posters_are_counted_by():
    with pytest.raises(CommandError, match="narrower than /64"):
        call_command("createboard", "news", "ニュース", "--set", "banned_ranges=2001:db8::1/128")


def test_a_bad_deployment_range_stops_the_start(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_BANNED_RANGES="10.0.0.0/8,nonsense")
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "UTAKATA_BANNED_RANGES: 'nonsense' is not an address range" in done.stderr
