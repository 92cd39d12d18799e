"""Django's CSRF token for a form, minted with one read of the system's randomness instead of 64.

Every thread page and board top carries a reply form, so every view of one
mints a token; most readers have no CSRF cookie yet, so most views also make
a new secret. Django's ``get_token`` draws each of the 64 characters (32 of
the secret, 32 of the mask) with ``secrets.choice``, one ``getrandom`` call
each: about 100 µs a page, more than the rest of an ``l50`` page's own work.

``get_token`` here does what Django's does, in Django's formats (the cookie
holds the 32-character secret, the form a 64-character mask + cipher that
CsrfViewMiddleware unmasks), with the same randomness (``os.urandom``, each
character uniform over the 62 allowed ones), drawn once. The middleware still
sets the cookie and checks every POST; tests/test_csrf_token.py posts with
these tokens through it.
"""

from __future__ import annotations

import os

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

_CHARS = CSRF_ALLOWED_CHARS
_INDEX = {c: i for i, c in enumerate(_CHARS)}
# A random byte below 248 (4 x 62) is an index, uniform over the 62 characters; the others are dropped.
_KEEP = len(_CHARS) * (256 // len(_CHARS))
_TO_INDEX = bytes(b % len(_CHARS) if b < _KEEP else 0 for b in range(256))
_DROP = bytes(range(_KEEP, 256))


def _random_indexes(count: int) -> bytes:
    """count indexes into the allowed characters, each uniform and independent."""
    found = b""
    while len(found) < count:
        found += os.urandom(count + 8).translate(_TO_INDEX, _DROP)
    return found[:count]


def get_token(request: HttpRequest) -> str:
    """What ``django.middleware.csrf.get_token`` returns and does to the request (CSRF_USE_SESSIONS off)."""
    meta = request.META
    secret = meta.get("CSRF_COOKIE")
    drawn = _random_indexes(2 * CSRF_SECRET_LENGTH if secret is None else CSRF_SECRET_LENGTH)
    if secret is None:
        secret = "".join(_CHARS[i] for i in drawn[CSRF_SECRET_LENGTH:])
        meta["CSRF_COOKIE"] = secret
    # The cookie is sent again since it is used (renewing its expiry), as Django does.
    meta["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = drawn[:CSRF_SECRET_LENGTH]
    cipher = (_CHARS[(_INDEX[c] + m) % len(_CHARS)] for c, m in zip(secret, mask, strict=True))
    return "".join(_CHARS[i] for i in mask) + "".join(cipher)
