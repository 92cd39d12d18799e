"""2channel tripcodes: a name typed as ``name#key`` is shown as ``name ◆trip``.

The trip is a one-way function of the key, so a poster proves they are the same
person without an account. The algorithm follows 2ch.net byte for byte, so a
trip made here matches the one its owner already uses elsewhere:

* the key is Shift_JIS (cp932) bytes; a fullwidth ＃ in it counts as ``#``;
* under 12 bytes: the classic DES ``crypt(3)`` trip, 10 characters;
* 12 bytes or more: ``base64(sha1(key))[:12]``, unless the key starts with
  ``#`` (the "raw key" form ``##<16 hex digits><salt>``, a classic trip with the
  DES key given directly) or ``$`` (reserved by 2ch), which give ``???``.

The 2ch.net behaviour was checked against the vectors of zerochplus/triptest
(test.pl, column "net"), which record what each board software returned.
"""

from __future__ import annotations

import base64
import hashlib
import re

from passlib.hash import des_crypt

from board.posting.characters import FAKE_MARKS

TRIP_MARK = "◆"
# What a user-typed mark (or a look-alike of one) becomes, so that only the server
# writes ◆ (a trip) or ★ (a cap, given by moderators): characters.FAKE_MARKS.

# 2ch converts the fullwidth number sign too: people on Japanese IMEs type it.
SEPARATORS = ("#", "＃")
NEW_STYLE_MIN_BYTES = 12
UNDEFINED_TRIP = "???"

_RAW_KEY = re.compile(rb"#([0-9A-Fa-f]{16})([./0-9A-Za-z]{0,2})")


def _salt_table() -> bytes:
    # Bytes outside '.'..'z' become '.', and the punctuation inside that range
    # (not valid crypt salt characters) becomes letters, as 2ch's Perl does with
    # s/[^\.-z]/\./g and tr/:;<=>?@[\\]^_`/ABCDEFGabcdef/.
    table = bytearray(b if 0x2E <= b <= 0x7A else 0x2E for b in range(256))
    for src, dst in zip(b":;<=>?@[\\]^_`", b"ABCDEFGabcdef", strict=True):
        table[src] = dst
    return bytes(table)


_SALT_TABLE = _salt_table()


def split_name(raw_name: str) -> tuple[str, str | None]:
    """Split ``name#key`` at the first ``#`` or ``＃``; the key is None if there is none."""
    cut = min((i for i in (raw_name.find(s) for s in SEPARATORS) if i >= 0), default=-1)
    if cut < 0:
        return raw_name, None
    return raw_name[:cut], raw_name[cut + 1 :]


def sanitize_name(name: str) -> str:
    """Replace the marks only the server may write, and look-alikes of them: ◆ becomes ◇ and ★ becomes ☆."""
    return name.translate(FAKE_MARKS)


def tripcode(key: str) -> str:
    """The trip for a key, without the ◆: 10 characters, 12 characters, or ``???``."""
    # A browser posting in Shift_JIS sends characters it cannot encode as
    # numeric references, so 2ch saw (and hashed) "&#NNNN;" for them.
    data = key.replace("＃", "#").encode("cp932", errors="xmlcharrefreplace")
    if len(data) < NEW_STYLE_MIN_BYTES:
        return _des_trip(data, data[1:3])
    if data.startswith(b"$"):
        return UNDEFINED_TRIP
    if data.startswith(b"#"):
        raw = _RAW_KEY.fullmatch(data)
        if raw is None:
            return UNDEFINED_TRIP
        return _des_trip(bytes.fromhex(raw[1].decode("ascii")), raw[2] + b"..")
    digest = base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
    return digest[:12].replace("+", ".")


def render_name(raw_name: str, default_name: str) -> str:
    """The name field as stored: sanitized, defaulted, and with ``◆trip`` if a key was given.

    The key is used exactly as typed: surrounding spaces in it are part of the
    password (2ch.net gives ``#  0  `` its own trip), only the name is stripped.
    """
    name, key = split_name(raw_name)
    name = sanitize_name(name).strip() or default_name
    if key is None:
        return name
    return f"{name} {TRIP_MARK}{tripcode(key)}"


def _des_trip(key: bytes, salt_chars: bytes) -> str:
    # 2ch pads the salt with "H.", so keys of 0 or 1 bytes get salt "H." (the
    # empty key's trip is jPpg5.obl6); raw keys arrive already padded with "..".
    salt = (salt_chars + b"H.")[:2].translate(_SALT_TABLE).decode("ascii")
    key = key[:8]
    # crypt(3) reads a C string, so it stops at NUL; passlib refuses NUL
    # instead (PasswordValueError). Raw keys padded with 00 rely on the stop.
    key = key.split(b"\x00", 1)[0]
    # 2ch.net also drops everything from the first 0x80 byte (its second byte
    # of e.g. ム, 0x83 0x80): triptest's vectors for ホムホム and ム一0 show it.
    key = key.split(b"\x80", 1)[0]
    # Passed as bytes on purpose: passlib would encode a str as UTF-8. For
    # bytes it keeps the low 7 bits of each, shifted left by one, exactly as
    # crypt(3) does, so high-bit Shift_JIS bytes need no workaround.
    return des_crypt.using(salt=salt).hash(key)[-10:]
