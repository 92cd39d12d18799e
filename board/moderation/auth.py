"""Signing in to the moderation site with an account from the log (accounts.py).

Django's authentication backend protocol: ``authenticate`` checks a password,
``get_user`` finds the account a session names. Throttling of failed sign-ins
is django-axes (settings: AXES_*), in front of this backend.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password

from board.moderation import accounts
from board.moderation.accounts import Moderator

# Checked against when the account does not exist, so that a wrong username costs the
# same time as a wrong password (no telling which usernames exist).
_DUMMY = make_password(None)


class LogBackend:
    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        if not username or password is None:
            return None
        moderator = accounts.get(username)
        if moderator is None:
            check_password(password, _DUMMY)
            return None
        if moderator.check_password(password) and moderator.is_active:
            return moderator
        return None

    def get_user(self, user_id) -> Moderator | None:
        moderator = accounts.by_id(int(user_id))
        return moderator if moderator is not None and moderator.is_active else None
