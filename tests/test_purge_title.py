"""Purging a thread's first post takes its title too: out of the pages, subject.txt and every log object."""

from __future__ import annotations

import pytest
from django.test import Client

from board.formats.dat import PURGED_TITLE
from board.lifecycle.purge import sweep
from board.log import get_log
from board.readmodel import objects as o
from tests.lifecycle_helpers import Timeline, at, maintain
from tests.purge_helpers import DAY, SECRET, holders
from tests.test_purge import purged, rehydrated

TITLE = f"{SECRET}に電話するスレ"


def pages(thread: str) -> dict[str, str]:
    client = Client()
    urls = ("/test/subject.txt", f"/test/dat/{thread}.dat", f"/test/read.cgi/test/{thread}/", "/test/")
    found = {}
    for url in urls:
        response = client.get(url)
        charset = (response.charset or "utf-8").lower()
        found[url] = response.content.decode("cp932" if charset in ("shift_jis", "cp932") else charset)
    return found


def titled_then_deleted() -> tuple[Timeline, str]:
    """A thread titled with SECRET in day 1's bundle and the first snapshot; its first post deleted on day 2.

    The second snapshot compacts the deleted post (no text) but keeps its subject: deleting keeps the title.
    """
    t = Timeline()
    t.board(0)
    thread = t.thread(10, subject=TITLE)
    t.reply(30, thread)
    maintain(DAY + 90)
    t.delete(DAY + 100, thread, 1)
    maintain(2 * DAY + 90)
    return t, thread


def test_purging_the_first_post_takes_the_title_off_every_page(board):
    from tests.helpers import new_thread, reply

    thread = new_thread(subject=TITLE).thread
    reply("test", thread)
    purged(thread, 1)
    for url, body in pages(thread).items():
        assert SECRET not in body, url
    assert f"{thread}.dat<>{PURGED_TITLE} (2)" in pages(thread)["/test/subject.txt"]


def test_deleting_the_first_post_keeps_the_title(board):
    from board.moderation.actions import delete_post
    from board.readmodel.projection import apply
    from board.store import get_store
    from tests.helpers import new_thread

    thread = new_thread(subject=TITLE).thread
    apply(get_store(), delete_post("test", thread, 1, "削除依頼", "root"))
    assert TITLE in pages(thread)["/test/subject.txt"]


def test_a_snapshot_that_compacted_a_deleted_first_post_still_holds_its_title():
    _, thread = titled_then_deleted()
    assert any(key.startswith("snapshots/") for key in holders())


def test_a_sweep_removes_a_purged_title_from_every_object():
    _, thread = titled_then_deleted()
    purged(thread, 1)
    sweep(get_log())
    assert holders() == []


def test_no_restore_to_any_point_in_time_shows_a_purged_title():
    _, thread = titled_then_deleted()
    purged(thread, 1)
    sweep(get_log())
    for minute in (20, 60, DAY + 95, DAY + 120):
        rehydrated("--until", at(minute).isoformat())
        for url, body in pages(thread).items():
            assert SECRET not in body, (minute, url)
    rehydrated()
    assert f"{thread}.dat<>{PURGED_TITLE} (2)" in pages(thread)["/test/subject.txt"]


@pytest.mark.parametrize("join", [o.join_thread_entry, o.join_posts])
def test_a_title_purge_wins_whichever_side_it_joins_from(join):
    if join is o.join_thread_entry:
        titled, purge = o.thread_entry(title=TITLE, count=2), o.thread_entry(updated=5, title_purged=True)
    else:
        titled, purge = {"posts": {}, "title": TITLE}, {"posts": {}, "title": PURGED_TITLE, "title_purged": True}
    assert join(titled, purge) == join(purge, titled)
    assert join(titled, purge)["title"] == PURGED_TITLE
