"""Post bodies and names as HTML, the way a 2ch read.cgi shows them.

Every character a user wrote leaves here escaped; the only markup in the output
is what this module builds itself (<br>, anchor and URL links, the trip span).
The functions return plain ``str`` holding safe HTML, so a template filter only
has to wrap the result in ``mark_safe``.

Bodies are scanned once, left to right, with one precompiled pattern: render
time is linear in the body, which matters at 1000 posts a page.

Stored pages keep each post's HTML (board/readmodel/encoding.py), so its size
must be bounded by the board's limits: text is escaped without its quotes
(harmless in a text node; ``&quot;`` would make a body of quotes six times
its size), and a post links at most LINKS_MAX anchors and URLs, with at most
LINKED_URL_BYTES of URL text between them; past that, the rest is plain text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

# 2ch threads stop at 1000 posts, plus the 1001st "this thread is full" notice;
# an anchor past that points nowhere and is left as text.
MAX_ANCHOR = 1001
# A link costs about 120 bytes of markup however short its text (">>1" is 3).
LINKS_MAX = 20
LINKED_URL_BYTES = 1024

_DIGITS = "0-9０-９"
_TOKEN_RE = re.compile(
    # >>12, >>3-5, ＞＞12, and &gt;&gt;12 as typed by users of other boards or
    # found in imported dat files, where bodies are stored escaped.
    rf"(?P<anchor>(?:>|＞|&gt;){{2}}(?P<a>[{_DIGITS}]+)(?:[-－](?P<b>[{_DIGITS}]+))?)"
    # http(s):// and 2ch's ttp(s):// (written to dodge old auto-linkers), not in
    # the middle of a word, though digits may touch it (">>12http://..."). The
    # class is RFC 3986's ASCII set: it stops at quotes, brackets, spaces and
    # Japanese text.
    r"|(?<![A-Za-z])(?P<scheme>h?ttps?)://(?P<rest>[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+)"
)
# Full-width digits come from Japanese IMEs; anchors mean the same with them.
_TO_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")
# Sentence punctuation after a URL is almost never part of it.
_URL_TRAILING = ".,!?;:'*"
# Entities the user typed end a URL, so that "http://a.jp/&gt;&gt;5" still
# yields an anchor after the link, as 0ch+'s URL pattern arranges with &(?![lg]t;).
_URL_STOPS = ("&gt;", "&lt;")
_TRIP_RE = re.compile(r"(?:^| )◆(?:[./0-9A-Za-z]{8,12}|\?\?\?)$")


def body_html(body: str, board: str, thread_key: str) -> str:
    """Render a raw post body: escaped, line breaks as <br>, anchors and URLs linked."""
    base = _base(board, thread_key)
    out: list[str] = []
    pos = 0
    links, url_bytes = 0, 0
    search = _TOKEN_RE.search
    # Every link has one of these: most bodies have none, and four finds cost less than the scan.
    linkable = ">" in body or "＞" in body or "&gt;" in body or "://" in body
    while linkable and links < LINKS_MAX and (m := search(body, pos)) is not None:
        start = m.start()
        if m.group("anchor") is not None:
            html = _anchor_html(m.group("a"), m.group("b"), base)
            end = m.end()
            if html is None:
                html = _text(m.group())
            else:
                links += 1
        else:
            html, end = _url_html(m.group("scheme"), m.group("rest"), m.start("rest"))
            url_bytes += end - start
            if url_bytes > LINKED_URL_BYTES:
                break  # the rest of the body, this URL included, is text
            links += 1
        if start > pos:
            out.append(_text(body[pos:start]))
        out.append(html)
        pos = end
    out.append(_text(body[pos:]))
    html = "".join(out)
    # Safe after escaping: no generated markup contains a line break.
    if "\r" in html:
        html = html.replace("\r\n", "\n").replace("\r", "\n")
    return html.replace("\n", "<br>")


@lru_cache(maxsize=1024)
def _base(board: str, thread_key: str) -> str:
    """The path anchors in a thread link to (a restore renders every post of a thread in turn)."""
    return f"/test/read.cgi/{escape(board)}/{escape(thread_key)}/"


def anchors_in(body: str) -> int:
    """How many ``>>N`` anchors a body holds (what the board's anchors_max counts)."""
    return sum(1 for m in _TOKEN_RE.finditer(body) if m.group("anchor") is not None)


def _text(text: str) -> str:
    """Escape text for a text node: ``& < >`` (quotes only matter inside attributes)."""
    # Most text has none of them: three searches in C cost less than escape()'s three replaces.
    if "&" in text or "<" in text or ">" in text:
        return escape(text, quote=False)
    return text


def name_html(name: str) -> str:
    """Escape a final name, putting a trailing ◆trip in <span class="trip">.

    Posting turns a user-typed ◆ into ◇ (as 2ch does), so a trailing ◆ here
    can only be a trip the server computed.
    """
    m = _TRIP_RE.search(name)
    if m is None:
        return _text(name)
    cut = m.start() + (1 if name[m.start()] == " " else 0)
    return f'{_text(name[:cut])}<span class="trip">{_text(name[cut:])}</span>'


def _anchor_html(a: str, b: str | None, base: str) -> str | None:
    first = _post_number(a)
    last = _post_number(b) if b is not None else first
    if first is None or last is None:
        return None
    if first > last:
        first, last = last, first
    target = str(first) if first == last else f"{first}-{last}"
    text = f"&gt;&gt;{_ascii(a)}" + (f"-{_ascii(b)}" if b is not None else "")
    return f'<a href="{base}{target}" class="anchor" data-anchor="{target}">{text}</a>'


def _post_number(digits: str) -> int | None:
    # Length first: int() of a long digit run is slow and, past 4300 digits,
    # raises; anything over four digits is past MAX_ANCHOR anyway.
    if len(digits) > 4:
        return None
    number = int(_ascii(digits))
    return number if 1 <= number <= MAX_ANCHOR else None


def _ascii(digits: str) -> str:
    return digits.translate(_TO_ASCII)


def _url_html(scheme: str, rest: str, rest_start: int) -> tuple[str, int]:
    """Link one URL match; return the HTML and where the URL really ended."""
    for stop in _URL_STOPS:
        cut = rest.find(stop)
        if cut != -1:
            rest = rest[:cut]
    rest = _trim_url(rest)
    shown = f"{scheme}://{rest}"
    end = rest_start + len(rest)
    if not rest.strip("/"):
        return _text(shown), end
    # ttp:// is only a way of writing http://; the link itself must work.
    href = ("h" + scheme if scheme.startswith("t") else scheme) + "://" + rest
    return (
        f'<a href="{escape(href)}" rel="nofollow noopener noreferrer" target="_blank">{_text(shown)}</a>',
        end,
    )


def _trim_url(rest: str) -> str:
    # Counted once and updated, so a run of closing brackets costs linear time.
    unopened = rest.count(")") - rest.count("(")
    end = len(rest)
    while end:
        last = rest[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last == ")" and unopened > 0:
            # "(see http://a.jp/x)" leaves its bracket out; "http://a.jp/f(x)" keeps its own.
            end -= 1
            unopened -= 1
        else:
            break
    return rest[:end]
