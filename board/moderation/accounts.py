"""Moderators' accounts, kept in the log like everything else.

A node's disk is volatile and there are many web nodes, so an account cannot
live in a local database: creating one, setting its password, its boards or
its rights, or deactivating it is an event (ModeratorCreated,
ModeratorChanged), applied to every store like the board's own objects and
restored by rehydrate. The password is kept as Django's salted hash (PBKDF2),
which therefore is in the log: README, "Moderators".

A Moderator is what Django's auth and admin see as ``request.user``: not an
ORM model (nothing is in the local database), but the attributes and methods
they use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from board.boards import NAME_RE, unfit_in_a_line
from board.events import SITE, Event, EventType, new_event
from board.moderation.actions import ModerationError, only_once, settle
from board.posting.characters import FAKE_MARKS
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel import queries
from board.readmodel.projection import read
from board.store import get_store

USERNAME_MAX = 32


# What create, change and purge_account (purge.py) claim, with the account's name: one at a time.
CLAIM = "action on account"


class AccountError(ModerationError):
    """The account does not exist, exists already, or the change is not allowed."""


CAP_NAME_MAX = 32  # characters: shown in every post of its holder, beside the name


def cap_name_problem(name: str) -> str | None:
    """Why a cap cannot be called this (None if it can): it stands in a post's one-line name."""
    if len(name) > CAP_NAME_MAX:
        return gettext("a cap name is at most %(limit)d characters, not %(length)d") % {
            "limit": CAP_NAME_MAX,
            "length": len(name),
        }
    if bad := unfit_in_a_line(name):
        return gettext("the cap name holds characters a post's name may not: %(names)s") % {"names": ", ".join(bad[:5])}
    if name.translate(FAKE_MARKS) != name:
        return gettext("the cap name holds a mark only the board writes (◆ of trips, ★ of caps, or a look-alike)")
    return None


PASSWORD_MAX = 256


def _check_password(password: str) -> None:
    if not 10 <= len(password) <= PASSWORD_MAX:
        raise AccountError(
            gettext("a password has at least 10 characters and at most %(limit)d") % {"limit": PASSWORD_MAX}
        )


def _board_names(boards) -> list[str]:
    """The boards a moderator acts on, sorted; each must be a board's name (a-z, 0-9, _) and a board of the site."""
    wrong = [b for b in boards if not NAME_RE.match(b)]
    if wrong:
        raise AccountError(
            gettext("not a board's name: %(names)s") % {"names": ", ".join(repr(b[:40]) for b in wrong[:5])}
        )
    # A board created later under that name would be theirs unasked.
    every = {b["name"] for b in queries.all_boards(get_store())}
    missing = sorted(set(boards) - every)
    if missing:
        raise AccountError(gettext("no such board: %(names)s") % {"names": ", ".join(f"/{b}/" for b in missing[:5])})
    return sorted(set(boards))


def _who(by: str, reason: str) -> dict:
    """who() of actions, its refusals as AccountError (what the accounts' callers catch)."""
    from board.moderation.actions import ModerationError, who  # actions imports the write path

    try:
        return who(by, reason)
    except ModerationError as exc:
        raise AccountError(str(exc)) from exc


@dataclass(eq=False)
class Moderator:
    """A signed-in moderator, as Django's auth and admin use a user."""

    id: int
    username: str
    password: str
    is_superuser: bool = False
    boards: frozenset[str] = field(default_factory=frozenset)
    is_active: bool = True
    cap_name: str = ""
    cap: str = ""  # the keyed hash of the cap's key (caps.py)
    purged: bool = False  # inactive for good: its hashes are rewritten out of the log (purge.py)

    # Django's login() stores user._meta.pk.value_to_string(user): the default user model's id field.
    _meta = User._meta
    is_authenticated = True
    is_anonymous = False
    backend = "board.moderation.auth.LogBackend"

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_staff(self) -> bool:
        return self.is_active

    def get_username(self) -> str:
        return self.username

    def get_short_name(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username

    def __eq__(self, other: object) -> bool:
        """The same account, whatever it holds now, as Django's models compare by pk.

        update_session_auth_hash keeps the session only if the user read back
        after a password change equals request.user, whose password is the old one.
        """
        return isinstance(other, Moderator) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def can_moderate(self, board: str) -> bool:
        return self.is_active and (self.is_superuser or board in self.boards)

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_active and self.is_superuser

    def has_perms(self, perms, obj: object = None) -> bool:
        return all(self.has_perm(p, obj) for p in perms)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_superuser

    def check_password(self, raw: str) -> bool:
        return check_password(raw, self.password)

    def get_session_auth_hash(self) -> str:
        """Changes with the password: a new password signs out the account's other sessions."""
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", self.password, algorithm="sha256"
        ).hexdigest()

    def get_session_auth_fallback_hash(self):
        from django.conf import settings

        for secret in settings.SECRET_KEY_FALLBACKS:
            yield salted_hmac(
                "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
                self.password,
                secret=secret,
                algorithm="sha256",
            ).hexdigest()

    def save(self, *args, **kwargs) -> None:
        """Nothing to save locally (Django calls it to note the last login)."""


def get(username: str) -> Moderator | None:
    """The account with this username, as the store holds it."""
    state = e.loads(read(get_store(), o.ACCOUNTS, username))
    if not state:
        return None
    f = {name: value for name, (_, value) in state["f"].items()}
    if "uid" not in f:
        return None
    return Moderator(
        f["uid"],
        username,
        f.get("password", ""),
        bool(f.get("superuser")),
        frozenset(f.get("boards", ())),
        f["active"],
        f.get("cap_name", ""),
        f.get("cap", ""),
        bool(f.get("purged")),
    )


def usernames() -> dict[str, int]:
    """Every account's username and id."""
    state = e.loads(read(get_store(), o.ACCOUNTS, o.ACCOUNT_INDEX_KEY)) or {"f": {}}
    return {name: uid for name, (_, uid) in sorted(state["f"].items())}


def by_id(uid: int) -> Moderator | None:
    for name, known in usernames().items():
        if known == uid:
            return get(name)
    return None


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot name an account, or None."""
    if not username or len(username) > USERNAME_MAX or not username.isascii() or not username.isalnum():
        return gettext("username %(username)r: use 1-%(limit)d ASCII letters and digits") % {
            "username": username,
            "limit": USERNAME_MAX,
        }
    return None


def create(username: str, password: str, superuser: bool = False, boards=(), by: str = "operator") -> Event:
    """A new account (ModeratorCreated), committed and applied under the account's claim.

    Its password is hashed here; only the hash goes to the log. The claim makes
    two creations of one name at once (two superusers, two deploy scripts) one
    account: the second is refused, not told it created an account the first's
    fields then replace.
    """
    if problem := username_problem(username):
        raise AccountError(problem)
    _check_password(password)
    with only_once(CLAIM, username):
        if get(username) is not None:
            raise AccountError(gettext("account %(username)r exists already") % {"username": username})
        payload = {
            "username": username,
            "uid": secrets.randbelow(2**52) + 1,
            "password": make_password(password),
            "superuser": superuser,
            "boards": _board_names(boards),
            "by": by,
        }
        return settle(new_event(EventType.MODERATOR_CREATED, SITE, payload=payload))


def change(
    username: str,
    by: str,
    reason: str = "",
    password: str | None = None,
    cap: tuple[str, str] | None = None,
    **fields,
) -> Event:
    """Change an account (ModeratorChanged): superuser, boards, active, a new password, and/or its cap.

    ``cap`` is (cap name, key) to issue one (only the key's keyed hash is kept,
    caps.py), or ("", "") to withdraw it. Checked, committed and applied under
    the account's claim, which its purge takes too: a change checked before a
    purge and committed after it would make the purged account active again.
    """
    with only_once(CLAIM, username):
        return settle(_change_event(username, by, reason, password, cap, fields))


def _change_event(
    username: str, by: str, reason: str, password: str | None, cap: tuple[str, str] | None, fields: dict
) -> Event:
    current = get(username)
    if current is None:
        raise AccountError(gettext("no account %(username)r") % {"username": username})
    payload = {k: v for k, v in fields.items() if k in ("superuser", "boards", "active")}
    if current.purged and payload.get("active"):
        # Its hashes are gone from the log and every event of it is read without them: a new account is the way.
        raise AccountError(
            gettext("account %(username)r is purged: it cannot be made active again") % {"username": username}
        )
    if cap is not None:
        from board.moderation import caps

        name, key = cap
        if key and (len(key) < 8 or not name or "#" in key):
            raise AccountError(gettext("a cap needs a name and a key of at least 8 characters, without #"))
        if problem := cap_name_problem(name):
            raise AccountError(problem)
        payload |= {"cap_name": name, "cap": caps.key_hash(key) if key else ""}
        if current.cap:
            payload["old_cap"] = current.cap
    if "boards" in payload:
        payload["boards"] = _board_names(payload["boards"])
    if (
        by == username
        and (payload.get("superuser") is False or payload.get("active") is False)
        and current.is_superuser
    ):
        # Another superuser can; this way no site is left with none by a slip of one's own.
        raise AccountError(gettext("a superuser cannot take away their own superuser rights or deactivate themselves"))
    if password is not None:
        _check_password(password)
        payload["password"] = make_password(password)
    if not payload:
        raise AccountError(gettext("nothing to change"))
    return new_event(EventType.MODERATOR_CHANGED, SITE, payload={"username": username, **payload, **_who(by, reason)})
