"""Any input to the posting path: written and shown escaped, or refused with a reason; never a 500.

Hypothesis draws names, mails, subjects and bodies from any Unicode, hostile
fragments (markup, references, anchors, controls, direction overrides) and
raw bytes in either charset, small and over the limits. For every draw:
the answer is the 2ch success or error page (never a server error); a
refusal wrote nothing to the log; an accepted post's dat has exactly five
fields on every line, and the thread page has no element or attribute the
board's own markup does not have.
"""

from __future__ import annotations

import itertools
from html.parser import HTMLParser
from urllib.parse import quote_plus

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from board.boards import DEFAULTS, UNLIMITED
from board.posting.validation import sjis_size
from tests.helpers import apply_pending, log_keys, make_board, new_thread

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<a href=javascript:alert(1)>x</a>",
    "<>",
    "<br>",
    "&lt;b&gt;",
    "&#60;script&#62;",
    "&#x3c;",
    "&#0;",
    "&#1114112;",
    "&#xD800;",
    "&amp;",
    ">>1",
    ">>1-1000",
    "&gt;&gt;2",
    "http://example.com/?a=1&b=<2>",
    "ttp://x",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "◆",
    "★",
    "#trip",
    "##secret",
    "sage",
    "<>FAKE<>",
    "\\",
    "①",
    "𠮷",
    "😀",
]
# Characters with a rule of their own (board/posting/characters.py, validation's controls).
POSING = ["\x00", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u200b", "\ufeff", "\ue000", "\u00ad"]
PLAIN = st.text(alphabet=st.sampled_from("abcXYZ019 あいうアイウ漢字ー。、！？「」＃＆"), max_size=8)

# Weighted toward what gets written, so that the escaping of accepted posts is what is tested most.
piece = st.one_of(*[PLAIN] * 10, *[st.sampled_from(MARKUP)] * 6, st.sampled_from(POSING), st.text(max_size=3))


def short(pieces: int, at_least: int = 0) -> st.SearchStrategy[str]:
    return st.lists(piece, min_size=at_least, max_size=pieces).map("".join)


# Text every board takes: plain characters and markup, nothing with a rule of its own, within the
# default name and mail limits (two pieces of markup can pass them once written into the dat).
TYPED = (
    st.lists(st.one_of(PLAIN, st.sampled_from(MARKUP)), max_size=2)
    .map("".join)
    .filter(lambda text: sjis_size(text) <= min(DEFAULTS["name_max"], DEFAULTS["mail_max"]))
)
WORDY = st.text(alphabet=st.sampled_from("abcあいう漢字"), min_size=1, max_size=8)

huge = st.sampled_from(["あ" * 1100, "x" * 5000, "\n" * 100, "<" * 3000])
body = st.one_of(*[short(12, at_least=1)] * 6, short(2), huge)
subject = st.one_of(*[short(4, at_least=1)] * 6, short(1))


def in_bytes(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """The field as a dedicated browser might send it: Shift_JIS mostly, now and then any bytes."""
    return st.one_of(
        *[strategy.map(lambda t: t.encode("cp932", "replace"))] * 30,
        strategy.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=40),
        st.sampled_from([b"\x80", b"\xa0", b"\xfd\xfe\xff", b"\x82", b"\x81\x7f", b"%", b"&#", b"\xef\xbb\xbf"]),
    )


times = itertools.count(1_700_000_000)

PROPERTY = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


class Markup(HTMLParser):
    """Every (element, attribute) in a page, and every link target."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: set[tuple[str, str]] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.pairs.add((tag, ""))
        for name, value in attrs:
            self.pairs.add((tag, name))
            if name == "href" and value is not None:
                self.hrefs.append(value)


def markup(html: str) -> Markup:
    parser = Markup()
    parser.feed(html)
    return parser


@pytest.fixture
def thread():
    make_board("test", "テスト板", **UNLIMITED)
    key = new_thread(subject="基準", body=">>1 http://example.com/ 本文\n二行目", name="名前#trip", mail="sage").thread
    # What the board's own markup may hold: its page with a post using every feature.
    return key, markup(Client().get(f"/test/read.cgi/test/{key}/").content.decode()).pairs


def check_written(key: str, allowed: set[tuple[str, str]]) -> None:
    apply_pending()
    dat = Client().get(f"/test/dat/{key}.dat").content.decode("cp932")
    for line in dat.split("\n")[:-1]:
        assert len(line.split("<>")) == 5, f"a dat line with other than 5 fields: {line!r}"
    page = markup(Client().get(f"/test/read.cgi/test/{key}/").content.decode())
    assert page.pairs <= allowed, f"markup a post made: {page.pairs - allowed}"
    assert not [h for h in page.hrefs if h.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]


@PROPERTY
@given(
    name=in_bytes(short(3)), mail=in_bytes(short(2)), body=in_bytes(body), new=st.booleans(), subject=in_bytes(subject)
)
def test_any_bytes_to_bbscgi_are_written_escaped_or_refused_with_the_2ch_error(thread, name, mail, body, new, subject):
    key, allowed = thread
    fields = {"bbs": b"test", "time": str(next(times)).encode(), "FROM": name, "mail": mail, "MESSAGE": body}
    fields |= {"subject": subject} if new else {"key": key.encode()}
    form = "&".join(f"{k}={quote_plus(v)}" for k, v in fields.items())
    before = log_keys()
    answer = Client().generic("POST", "/test/bbs.cgi", form, "application/x-www-form-urlencoded")
    page = answer.content.decode("cp932", "replace")
    assert answer.status_code < 500 or "2ch_X:error" in page, f"a server error: {answer.status_code}"
    if "2ch_X:true" in page:
        event("written")
        check_written(key, allowed)
    else:
        event(f"refused: {page.split('ＥＲＲＯＲ：', 1)[-1][:40]}")
        assert "2ch_X:error" in page and "ＥＲＲＯＲ：" in page, "a refusal without the 2ch error and its reason"
        assert log_keys() == before, "a refused post wrote to the log"


@PROPERTY
@given(name=short(3), mail=short(2), body=body, new=st.booleans(), subject=subject)
def test_any_text_to_the_form_is_written_and_escaped_or_refused_with_a_reason(thread, name, mail, body, new, subject):
    key, allowed = thread
    data = {"FROM": name, "mail": mail, "MESSAGE": body}
    data |= {"subject": subject} if new else {"key": key}
    data = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in data.items()}
    before = log_keys()
    answer = Client().post("/test/post", data)
    assert answer.status_code < 500, f"a server error: {answer.status_code}"
    if answer.status_code == 200:
        posted = answer.content.decode()
        assert "書きこみました" in posted
        event("written")
        check_written(key, allowed)
    else:
        refusal = answer.content.decode()
        event(f"refused: {refusal.split('ＥＲＲＯＲ：', 1)[-1][:40]}")
        assert "ＥＲＲＯＲ：" in refusal, "a refusal without its reason"
        assert log_keys() == before, "a refused post wrote to the log"


@PROPERTY
@given(name=TYPED, mail=TYPED, lead=WORDY, rest=st.lists(st.sampled_from(MARKUP), max_size=10).map("".join))
def test_any_markup_typed_in_a_post_is_written_and_shown_as_text(thread, name, mail, lead, rest):
    key, allowed = thread
    answer = Client().post("/test/post", {"key": key, "FROM": name, "mail": mail, "MESSAGE": lead + rest})
    assert "書きこみました" in answer.content.decode(), answer.content.decode()[:400]
    check_written(key, allowed)
