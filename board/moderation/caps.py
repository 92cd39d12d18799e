"""Caps (キャップ): a moderator posts as staff by typing ``#capkey`` in the mail field, as on 0ch+.

A cap is issued in the moderation site: its name and a keyed hash of its key
(ModeratorChanged ``cap``), never the key itself. A post whose mail field
holds ``#`` has everything from the ``#`` taken off (so ``sage #password``
never shows the password, as 0ch+ does), and only then is the key after it
hashed and looked up: one store read, only for such posts. A valid cap shows
the name as ``名前＠キャップ名 ★``; users cannot type ★ (tripcode.py turns it
into ☆). A name with a staff word (the board's ``staff_names``) is refused
to anyone without a cap.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import read
from board.store import get_store

CAP_MARK = "★"
CAP_INDEX_KEY = "caps"


def split_mail(mail: str) -> tuple[str, str | None]:
    """The mail field as shown, and the cap key typed after ``#`` (None if no ``#``)."""
    shown, mark, key = mail.partition("#")
    return shown.strip(), (key.strip() if mark else None)


def key_hash(key: str) -> str:
    """The keyed hash a cap is kept and looked up by."""
    return hmac.new(settings.SECRET_KEY.encode(), f"cap:{key}".encode(), hashlib.sha256).hexdigest()


def cap_name(key: str) -> str | None:
    """The cap name a key opens, if an active moderator holds it."""
    if not key:
        return None
    state = e.loads(read(get_store(), o.ACCOUNTS, CAP_INDEX_KEY))
    found = (state or {"f": {}})["f"].get(key_hash(key))
    if not found or not found[1]:
        return None
    name, username = found[1]
    from board.moderation import accounts

    holder = accounts.get(username)
    return name if holder is not None and holder.is_active else None


def impersonates(name: str, staff_names: str) -> bool:
    """Whether a name uses one of the board's staff words (comma-separated)."""
    words = [w.strip() for w in staff_names.split(",") if w.strip()]
    return any(word in name for word in words)
