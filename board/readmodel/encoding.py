"""How states are stored: JSON, and beside it the bytes pages are served from.

A posts page, a thread and a board's live list are stored as

    state JSON  NUL  header JSON  NUL  bytes

where the bytes are a pure function of the state (and of the renderer
version the header names), recomputed whenever the value is encoded:

    posts page   its dat lines, then each post's HTML fragment
    thread       HTML fragments of post 1 and of its last posts (board tops)
    live list    subject.txt, and in the header the first MENU rows

So the values stay semilattices (equal states give equal bytes), and a
request slices stored bytes instead of decoding posts and rendering them.
A fragment or dat line of a post whose state did not change is copied from
the value being replaced, so a write renders only what changed.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

import orjson

from board.formats import dat
from board.formats.dates import DEFAULT_WEEKDAYS
from board.formats.posthtml import RENDERER, post_html
from board.formats.subject import SubjectRow, subject_line
from board.lib.kept import Kept
from board.readmodel import objects as o

# JSON never holds a raw NUL (control characters are escaped), so the first
# NUL in a value ends its JSON, wherever the value came from.
FRAME = b"\x00"
MENU = 50  # rows of the live list a board top shows (the rest is on subback.html)
DEFAULT_RES_MAX = 1000

State = o.State
FRAMED = frozenset({o.POSTS, o.THREAD, o.THREADS})


def dumps(state: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): equal states give equal bytes.

    orjson writes the same bytes as ``json.dumps(state, ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))``, what stored values were written
    with before, at a fraction of the cost: a restore encodes every object.
    """
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | None) -> State | None:
    """The state of a stored value (its JSON part only)."""
    if data is None:
        return None
    cut = data.find(FRAME)
    return orjson.loads(data if cut < 0 else data[:cut])


def split(value: bytes) -> tuple[State, bytes]:
    """The header and the bytes of a framed value, without decoding its state."""
    header, start = split_at(value)
    return header, value[start:]


def split_at(value: bytes) -> tuple[State, int]:
    """The header of a framed value, and where its bytes start."""
    first, second = _frames(value)
    return orjson.loads(value[first + 1 : second]), second + 1


def raw_header(value: bytes) -> bytes:
    """A framed value's header as stored (JSON, not parsed)."""
    first, second = _frames(value)
    return value[first + 1 : second]


def _frames(value: bytes) -> tuple[int, int]:
    first = value.find(FRAME)
    second = value.find(FRAME, first + 1)
    if first < 0 or second < 0:
        raise ValueError("not a framed value")
    return first, second


# Headers parsed on the read paths, one per object, kept while its bytes stay the same:
# a thread polled by many readers has its header parsed once per change, not per request
# (a 1000-post thread's is 2.5 KB of JSON, 40 dicts: parsing it cost more than reading it).
HEADERS_BYTES = 512 * 1024  # raw header bytes kept at most (parsed, they take a few times that)
_headers = Kept(HEADERS_BYTES, lambda kept: len(kept[0]))  # (bucket, key) -> (raw header, parsed)


def read_header(bucket: str, key: str, value: bytes) -> tuple[State, int]:
    """The header of a framed value read from bucket/key, and where its bytes start.

    The header is shared with other requests: read it, never change it.
    """
    first, second = _frames(value)
    raw = value[first + 1 : second]
    slot = (bucket, key)
    kept = _headers.get(slot)
    if kept is not None and kept[0] == raw:
        return kept[1], second + 1
    header = orjson.loads(raw)
    _headers.put(slot, (raw, header))
    return header, second + 1


def stale(bucket: str, value: bytes) -> bool:
    """Whether a stored value's bytes were made by other code than this (or are missing)."""
    if bucket not in FRAMED:
        return False
    try:
        header, _ = split(value)
    except ValueError:
        return True
    return header.get("r") != RENDERER


def encode(bucket: str, key: str, state: State, previous: tuple[State, bytes] | None = None) -> bytes:
    """The bytes stored for ``state`` at bucket/key; ``previous`` (state, value) lends unchanged fragments."""
    if bucket == o.POSTS:
        return _encode_page(key, state, previous)
    if bucket == o.THREAD:
        return _encode_thread(key, state, previous)
    if bucket == o.THREADS:
        return _encode_list(key, state)
    return dumps(state)


def _framed(state: State, header: State, data: bytes) -> bytes:
    return dumps(state) + FRAME + dumps(header) + FRAME + data


def _packed(spans: dict[str, list[int]]) -> tuple[list[int], list[int]]:
    """Fragments that follow one another as (numbers, boundaries): what headers store (quick to parse)."""
    numbers = [int(n) for n in spans]
    bounds = [span[0] for span in spans.values()] + [next(reversed(spans.values()))[1]] if spans else [0]
    return numbers, bounds


def _unpacked(numbers: list[int], bounds: list[int]) -> dict[str, list[int]]:
    return {str(n): [bounds[i], bounds[i + 1]] for i, n in enumerate(numbers)}


class _Fragments:
    """Fragments of the value being replaced, reused for posts whose state is unchanged."""

    def __init__(self, posts_of_previous: dict[str, State], previous: bytes | None, field: str) -> None:
        self.posts = posts_of_previous
        self.header: State = {}
        self.data = b""
        if previous is not None and not stale(o.POSTS, previous):
            self.header, self.data = split(previous)
        if field == "d":  # dat lines: the run from the page's first number on
            bounds = self.header.get("d", [0])
            start = self.header.get("first", 1)
            self.spans = _unpacked(list(range(start, start + len(bounds) - 1)), bounds)
        else:
            self.spans = _unpacked(self.header.get("h", []), self.header.get("ho", [0]))

    def get(self, number: str, post: State, offset: int = 0) -> bytes | None:
        span = self.spans.get(number)
        if span is None or self.posts.get(number) != post:
            return None
        return self.data[offset + span[0] : offset + span[1]]


def _html_chunk(board: str, thread: str, posts: dict[str, State], reuse: _Fragments, offset: int) -> tuple:
    """Every post's fragment in number order, and where each lies: (bytes, {number: [start, end]})."""
    parts, spans, at = [], {}, 0
    for number in sorted(posts, key=int):
        post = posts[number]
        fragment = reuse.get(number, post, offset)
        if fragment is None:
            fragment = post_html(board, thread, post).encode("utf-8")
        parts.append(fragment)
        spans[number] = [at, at + len(fragment)]
        at += len(fragment)
    return b"".join(parts), spans


def _encode_page(key: str, state: State, previous: tuple[State, bytes] | None) -> bytes:
    """A posts page: its dat lines (the run from the page's first number on), then its posts' HTML.

    Only the run of posts from the page's first number on goes into the dat: a
    post applied before the one in front of it waits, so line N of a dat is
    always post N. The header's ``fp`` names the dat bytes: it grows with the
    page (lines, then deletions, then title) and ends with a digest of what
    the lines depend on, so two pages with one fp have the same dat bytes and
    the larger fp is the more complete page.
    """
    board, thread, page = o.split_posts_key(key)
    posts, title = state["posts"], state.get("title", "")
    old_posts, old_value = (previous[0].get("posts", {}), previous[1]) if previous else ({}, None)
    lines_reuse = _Fragments(old_posts, old_value, "d")
    old_title = previous[0].get("title", "") if previous else ""
    first = page * o.POSTS_PER_PAGE + 1
    lines: list[bytes] = []
    line_spans: dict[str, list[int]] = {}
    deleted: list[int] = []
    at = 0
    number = first
    while number < first + o.POSTS_PER_PAGE and (post := posts.get(str(number))) is not None:
        line_title = title if number == 1 else ""
        line = lines_reuse.get(str(number), post) if number != 1 or title == old_title else None
        if line is None:
            if post.get("deleted"):
                text = dat.abone_line(line_title)
            else:
                text = dat.post_line(post, line_title, post.get("weekdays", DEFAULT_WEEKDAYS))
            line = dat.encode(text)
        if post.get("deleted"):
            deleted.append(number)
        lines.append(line)
        line_spans[str(number)] = [at, at + len(line)]
        at += len(line)
        number += 1
    dat_bytes = b"".join(lines)
    html_reuse = _Fragments(old_posts, old_value, "h")
    html, html_spans = _html_chunk(board, thread, posts, html_reuse, html_reuse.header.get("dat", 0))
    digest = hashlib.sha1(dumps({"d": deleted, "f": first, "n": len(lines), "t": title})).hexdigest()
    fp = f"{len(lines):03d}{len(deleted):03d}{int(bool(title))}{digest[:12]}"
    numbers, bounds = _packed(html_spans)
    header = {
        "fp": fp,
        "lines": len(lines),
        "dat": len(dat_bytes),
        "first": first,
        "d": _packed(line_spans)[1],
        "h": numbers,
        "ho": bounds,
        "r": RENDERER,
    }
    return _framed(state, header, dat_bytes + html)


def page_parts(value: bytes) -> tuple[State, bytes, bytes]:
    """A stored page's header, dat chunk and HTML chunk."""
    header, data = split(value)
    cut = header["dat"]
    return header, data[:cut], data[cut:]


def page_entry(value: bytes) -> State:
    """What the thread object records about a stored page: the fp, size and lines of its dat chunk."""
    header, _ = split(value)
    return {"fp": header["fp"], "size": header["dat"], "lines": header["lines"]}


def _encode_thread(key: str, state: State, previous: tuple[State, bytes] | None) -> bytes:
    board, thread = o.split_thread_key(key)
    shown = dict(state.get("recent", {}))
    if state.get("first"):
        shown["1"] = state["first"]
    old: dict[str, State] = {}
    if previous:
        old = dict(previous[0].get("recent", {}))
        if previous[0].get("first"):
            old["1"] = previous[0]["first"]
    reuse = _Fragments(old, previous[1] if previous else None, "h")
    html, spans = _html_chunk(board, thread, shown, reuse, 0)
    # The entry and the page sizes again in the header: a dat request or a 304 reads
    # them without decoding the posts the state carries for board tops.
    numbers, bounds = _packed(spans)
    header = {"h": numbers, "ho": bounds, "r": RENDERER, "thread": state.get("thread"), "pages": state.get("pages", {})}
    return _framed(state, header, html)


def html_parts(bucket: str, key: str, value: bytes) -> tuple[list[int], list[int], memoryview]:
    """The numbers of a stored page's (or thread's) HTML fragments, their boundaries, and that HTML.

    Fragment i is ``html[bounds[i]:bounds[i + 1]]``, numbers ascending. A value
    rendered by other code than this is rendered again here (not stored: the
    next write to it stores the new rendering).
    """
    header, start = read_header(bucket, key, value)
    if header.get("r") != RENDERER:
        value = encode(bucket, key, loads(value))
        header, start = split_at(value)
    return header["h"], header["ho"], memoryview(value)[start + header.get("dat", 0) :]


def live_rows(state: State) -> list[tuple[str, State]]:
    """The live threads of a board's list, most recently bumped first (ties: newest thread first)."""
    rows = [(k, e) for k, e in state["threads"].items() if e["state"] == "live" and e["title"]]
    rows.sort(key=lambda row: (row[1]["bumped"], row[0]), reverse=True)
    return rows


def _encode_list(board: str, state: State) -> bytes:
    """A board's live list: subject.txt, then the board top's menu of the first MENU threads as HTML."""
    res_max = state.get("settings", {}).get("res_max", DEFAULT_RES_MAX)
    rows = live_rows(state)
    # A full thread's dat has the stop line too, and clients count dat lines.
    lines = [subject_line(SubjectRow(k, e["title"], e["count"] + (1 if e["count"] >= res_max else 0))) for k, e in rows]
    subject = dat.encode("".join(lines))
    menu = "".join(
        f'<a href="/test/read.cgi/{board}/{k}/l50">{n}: {escape(e["title"], quote=False)} ({e["count"]})</a>\n'
        for n, (k, e) in enumerate(rows[:MENU], 1)
    ).encode("utf-8")
    updated = max((e["updated"] for e in state["threads"].values()), default=0)
    header = {
        "updated": updated,
        "live": len(rows),
        "subject": len(subject),
        "top": [k for k, _ in rows[:MENU]],
        "r": RENDERER,
    }
    return _framed(state, header, subject + menu)
