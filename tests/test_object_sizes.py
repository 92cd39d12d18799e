"""Every stored object stays under 1 MB in the worst case the boards' limits allow.

Riak's guidance: objects well under 1 MB. Each test builds the largest object
of its kind that posts within the bounds of board/boards.py can make, with
the text that expands most in each encoding (``&`` is 5 bytes in a dat and in
HTML, ``"`` 6 in a dat, a newline 6 in a dat, an anchor ~120 bytes of HTML).
"""

from __future__ import annotations

import pytest

from board.boards import BOUNDS, with_defaults
from board.formats.markup import LINKS_MAX
from board.posting.validation import Submission, validate
from board.readmodel import encoding as e
from board.readmodel import objects as o

MB = 1024 * 1024
BOARD = "a" * 32  # the longest board name: it is in every link
KEY = "1796111994"
BODY_MAX = BOUNDS["body_max"][1]
LINES_MAX = BOUNDS["lines_max"][1]
LIMITS = with_defaults({key: high for key, (_, high) in BOUNDS.items()})


def worst_bodies() -> dict[str, str]:
    newlines = "\n".join(["&" * ((BODY_MAX - LINES_MAX) // LINES_MAX)] * LINES_MAX)
    anchors = " ".join([">>1000"] * LINKS_MAX) + " " + "&" * BODY_MAX
    url = "http://a.jp/" + "&" * 200
    urls = " ".join([url] * 8)
    bodies = {
        "ampersands": "&" * BODY_MAX,
        "quotes": '"' * BODY_MAX,
        "newlines": newlines,
        "anchors": anchors,
        "urls": urls + " " + "&" * BODY_MAX,
    }
    fitted = {}
    for name, body in bodies.items():
        while True:  # trimmed until the board accepts it: the worst a poster can really send
            try:
                validate(Submission(name='"' * 64, mail="&" * 64, body=body), LIMITS, new_thread=False)
                break
            except Exception:
                body = body[:-1]
        fitted[name] = body
    return fitted


BODIES = worst_bodies()


def post(number: int, body: str) -> o.State:
    return {
        "number": number,
        "name": '"' * 64 + " ◆" + "A" * 12,
        "mail": "&" * 64,
        "time": 1_796_111_994_123,
        "id": "ABCDEFGH",
        "body": body,
        "event": "01KBZZZZZZZZZZZZZZZZZZZZZZ",
        "weekdays": "日月火水木金土",
    }


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_a_posts_page_of_the_worst_posts_is_under_1_mb(kind):
    state = {"posts": {str(n): post(n, BODIES[kind]) for n in range(1, o.POSTS_PER_PAGE + 1)}, "title": '"' * 128}
    size = len(e.encode(o.POSTS, o.posts_key(BOARD, KEY, 0), state))
    assert size < MB, f"{kind}: {size} bytes"


def test_a_thread_object_with_the_worst_recent_posts_is_under_1_mb():
    body = max(BODIES.values(), key=len)
    recent = {str(n): post(n, body) for n in range(991, 1001)}
    pages = {str(p): {"fp": "025000" + "f" * 13, "size": 900_000, "lines": 25} for p in range(40)}
    entry = o.thread_entry('"' * 128, int(KEY), 1000, "01KBZZZZZZZZZZZZZZZZZZZZZZ", 1_796_111_994_123)
    state = {"thread": entry, "pages": pages, "first": post(1, body), "recent": recent}
    assert len(e.encode(o.THREAD, o.thread_key(BOARD, KEY), state)) < MB


def test_a_live_list_at_the_thread_cap_with_a_burst_of_fallen_threads_is_under_1_mb():
    cap = BOUNDS["thread_cap"][1]
    now = 1_796_111_994_000
    threads = {
        str(1_700_000_000 + n): o.thread_entry('"' * 128, 1_700_000_000 + n, 1000, f"01KB{n:022d}", now)
        for n in range(cap)
    }
    # One thread a second (keys are seconds) for the whole time fallen threads stay marked.
    for n in range(o.TOMBSTONE_MS // 1000):
        threads[str(1_600_000_000 + n)] = o.thread_entry('"' * 128, 1, 1000, "x", now, "archived")
    state = o.join_threads({"threads": threads, "settings": {"event": "x", "res_max": 1000}}, {"threads": {}})
    assert len(e.encode(o.THREADS, BOARD, state)) < MB


def test_an_archive_window_of_a_thousand_threads_is_under_1_mb():
    window = {str(1_796_111_000 + n): o.thread_entry('"' * 128, 1, 1000, "x", 1, "archived") for n in range(1000)}
    assert len(e.encode(o.ARCHIVE, f"{BOARD}/1796111", {"threads": window})) < MB


def test_a_months_archive_index_is_small():
    windows = [str(1_796_000 + n) for n in range(31 * 86_400 // 1000 + 1)]
    assert len(e.encode(o.KAKO, f"{BOARD}/2026-12", {"items": windows})) < 64 * 1024


def test_an_hours_audit_holds_a_thousand_deletions_with_the_longest_reasons_in_objects_under_1_mb():
    """Deleting every post of an ID in a full thread is one click and a thousand actions."""
    from board.events import EventType, new_event
    from board.moderation.actions import REASON_MAX
    from board.readmodel import moderation

    held: dict[str, o.State] = {}
    for number in range(1, LIMITS["res_max"] + 1):
        payload = {"by": "m" * 32, "reason": "荒" * REASON_MAX, "posted": 1, "posted_event": "0" * 26}
        event = new_event(EventType.POST_DELETED, BOARD, KEY, number, payload)
        for bucket, key, delta in moderation.deltas(event, index=False):
            held[key] = o.JOINS[bucket](held[key], delta) if key in held else delta
    assert max(len(e.encode(o.AUDIT, key, state)) for key, state in held.items()) < MB
