"""What /test/bbs.cgi needs besides the write path: reading the form, writing the answer.

Dedicated browsers send the form URL-encoded in the board's charset,
Shift_JIS unless the Content-Type says ``charset=UTF-8`` (JDim does so for
UTF-8 boards). The bytes are decoded strictly: a post whose bytes are not the
charset is refused, not stored with U+FFFD in it (Django's request.POST would
replace them silently). A Shift_JIS browser sends a character it cannot encode
as a numeric reference (``&#9829;``); those are turned back into the character
here, so the post holds ♥, the HTML page shows ♥, and the dat, which is
Shift_JIS, writes it out again as ``&#9829;``.

The answer is always HTTP 200, as clients read the page and not the status:
JDim looks for ``書きこみました`` in the title or ``2ch_X:true`` for success,
and takes the first ``<b>…</b>`` as the error message; in that message a
number between spaces followed by ``sec`` (Samba24's ``N sec たたないと書けません``)
is the wait it honours before posting again.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import unquote_to_bytes

from django.conf import settings

from board.posting import refusals as r

SHIFT_JIS = "cp932"  # what "Shift_JIS" means on the web: Windows-31J, with ① and ㈱
UTF8 = "utf-8"

_CHARSET_RE = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]+)\"?", re.IGNORECASE)
_SJIS_LABELS = {"shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932", "ms932"}
_REFERENCE_RE = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9A-Fa-f]{1,6}));")

FORM_TYPE = "application/x-www-form-urlencoded"
FIELDS = ("bbs", "key", "time", "FROM", "mail", "MESSAGE", "subject", "submit")
MAX_FIELDS = 64  # clients send about ten; a form of a million fields is an attack on the CPU


class FormError(Exception):
    """The form could not be read; the message says why, for the poster."""


def check_form_type(media_type: str) -> None:
    """Refuse a body that is not a urlencoded form (multipart, JSON...): its fields would not be read.

    media_type is Django's request.content_type: the Content-Type without its parameters, lowercased.
    """
    # Some clients send no Content-Type at all; what they send is a urlencoded form.
    if media_type not in {"", FORM_TYPE}:
        raise FormError(r.WRONG_FORM_TYPE)


def form_charset(content_type: str) -> str:
    """The codec for the form: the Content-Type's charset, Shift_JIS (CP932) when none is given."""
    m = _CHARSET_RE.search(content_type or "")
    if m is None:
        return SHIFT_JIS
    label = m[1].lower()
    if label in _SJIS_LABELS:
        return SHIFT_JIS
    try:
        name = codecs.lookup(label).name
    except LookupError:
        raise FormError(r.BAD_ENCODING) from None
    # Clients send Shift_JIS or UTF-8. Anything else (utf-16, or the bytes-to-bytes
    # codecs that codecs.lookup also knows: base64, zlib...) is refused, not guessed at.
    if name != "utf-8":
        raise FormError(r.BAD_ENCODING)
    return UTF8


def parse_form(body: bytes, charset: str) -> dict[str, str]:
    """The form's fields, decoded strictly; the first value of a repeated field wins."""
    form: dict[str, str] = {}
    # By hand, on bytes: urllib's parse_qsl decodes as UTF-8 with replacement before we could choose.
    pairs = body.split(b"&", MAX_FIELDS)
    if len(pairs) > MAX_FIELDS:
        raise FormError(r.TOO_MANY_FIELDS)
    for pair in pairs:
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        raw_name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        raw_value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        try:
            name = raw_name.decode("ascii")
            value = raw_value.decode(charset)
        except UnicodeDecodeError:
            raise FormError(r.BAD_ENCODING) from None
        form.setdefault(name, value)
    return form


def foreign(request) -> bool:
    """Whether a browser says this POST comes from another site (a dedicated browser sends no Origin)."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    own = f"{request.scheme}://{request.get_host()}"
    return origin != own and origin not in settings.CSRF_TRUSTED_ORIGINS


def unescape_references(text: str) -> str:
    """Turn ``&#NNNN;`` and ``&#xHHHH;`` back into characters; leave the unrepresentable as typed."""

    def character(m: re.Match[str]) -> str:
        code = int(m[1]) if m[1] is not None else int(m[2], 16)
        # Control characters, surrogates and NUL would be refused or mangled later: keep the text.
        if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            return m[0]
        return chr(code)

    return _REFERENCE_RE.sub(character, text)


def flood_message(wait: int) -> str:
    """The cooldown refusal in the shape clients parse for the seconds to wait."""
    return f"連続投稿ですか？？ {wait} sec たたないと書けません。（あと{wait}秒）"
