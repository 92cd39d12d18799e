"""Small helpers the tests share: boards, posts, and fan-out done in-process."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from board.events import EventType, new_event
from board.lifecycle.tail import pending
from board.log import get_log
from board.log.layout import INCOMING
from board.posting.commit import Posted, commit, submit
from board.posting.refusals import Refused
from board.posting.validation import Submission
from board.readmodel import queries
from board.readmodel.projection import apply
from board.store import get_store
from board.tasks.fanout import apply_key


def apply_pending() -> int:
    """Do what the workers do: apply every committed event in incoming/ (idempotent)."""
    count = 0
    for info in pending(get_log().list(INCOMING)):
        apply_key(info.key)
        count += 1
    return count


def make_board(name: str = "test", title: str = "テスト板", **settings: Any) -> dict:
    commit(new_event(EventType.BOARD_CREATED, name, payload={"title": title, **settings}))
    apply_pending()
    board = queries.board(get_store(), name)
    assert board is not None
    return board


def new_thread(
    board: str = "test",
    subject: str = "スレタイ",
    body: str = "本文",
    name: str = "",
    mail: str = "",
    address: str = "192.0.2.1",
) -> Posted:
    posted = submit(board, None, Submission(name=name, mail=mail, body=body, subject=subject), address)
    apply_pending()
    return posted


def reply(
    board: str, thread: str, body: str = "レス", name: str = "", mail: str = "", address: str = "192.0.2.1"
) -> Posted:
    posted = submit(board, thread, Submission(name=name, mail=mail, body=body), address)
    apply_pending()
    return posted


def log_keys() -> list[str]:
    return [info.key for info in pending(get_log().list(INCOMING))]


def refused(board: str, thread: str | None, address: str = "192.0.2.1", **fields: str) -> Refused:
    """The refusal of a post, checking it wrote nothing to the log."""
    before = log_keys()
    refusal = attempt(board, thread, address, **fields)
    assert log_keys() == before, "a refused post must write nothing"
    return refusal


def attempt(board: str, thread: str | None, address: str, **fields: str) -> Refused:
    """The refusal of a post (which must be refused)."""
    with pytest.raises(Refused) as info:
        submit(board, thread, Submission(**fields), address)
    return info.value


DECEMBER = 1796050800  # 2026-12-01 00:00 JST: thread keys from here on were created in 2026-12


def archived_thread(key: int) -> str:
    """A thread created at second key, sent to the archive at once."""
    at = datetime.fromtimestamp(key, UTC)
    payload = {"name": "", "mail": "", "body": "本文", "id": "abcd1234", "subject": f"アーカイブ{key} "}
    store = get_store()
    apply(store, new_event(EventType.THREAD_CREATED, "test", str(key), 1, payload, at=at))
    apply(store, new_event(EventType.THREAD_ARCHIVED, "test", str(key), at=at))
    return str(key)


def count_listings(monkeypatch) -> list[str]:
    """Record the prefixes the log is listed under from now on."""
    log = get_log()
    real_list = type(log).list
    prefixes: list[str] = []

    def listing(self, prefix="", start_after=""):
        prefixes.append(prefix)
        return real_list(self, prefix, start_after)

    monkeypatch.setattr(type(log), "list", listing)
    return prefixes


@contextlib.contextmanager
def held_at_commit(
    monkeypatch, module: ModuleType, action: Callable[[], object], release_after: float | None = None
) -> Iterator[None]:
    """Run action in a thread held just before its commit (module's) until the block ends, or release_after s."""
    reached, release = threading.Event(), threading.Event()
    commit = module.commit

    def held(event):
        if not reached.is_set():
            reached.set()
            release.wait(10)
        return commit(event)

    monkeypatch.setattr(module, "commit", held)
    first = threading.Thread(target=action)
    first.start()
    assert reached.wait(10)
    if release_after is not None:
        threading.Timer(release_after, release.set).start()
    try:
        yield
    finally:
        release.set()
        first.join(10)


def twice_at_once(monkeypatch, module: ModuleType, action: Callable[[], object]) -> object:
    """Run action in a thread held just before its commit (module's), and again meanwhile.

    Two moderators taking one action at the same moment, or a double click:
    what the second returned, or the exception it raised.
    """
    with held_at_commit(monkeypatch, module, action):
        try:
            return action()
        except Exception as exc:
            return exc
