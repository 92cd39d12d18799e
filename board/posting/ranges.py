"""Range bans (アク禁): address ranges refused at posting, set by operators.

Two sources, both lists of CIDR networks: the deployment's
``UTAKATA_BANNED_RANGES`` (every board) and each board's ``banned_ranges``
setting (commas or whitespace between networks). A range is operator data;
no poster's address is stored by a ban. A daily-ID ban lasts its day
(nothing links a poster across days); a longer ban is a range ban.

The address checked is the poster's as the board counts them
(board/web/client.py): IPv6 by its /64 (UTAKATA_IPV6_PREFIX), so an IPv6
range narrower than that prefix could never match and is refused.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SEPARATORS = re.compile(r"[\s,]+")


def gettext_noop(message: str) -> str:
    """Mark a message for the catalog (makemessages looks for the name) without translating it.

    Django's own gettext_noop reads the settings on its first call, and the settings import
    this module: from here it would leave Django holding half-read settings.
    """
    return message


NOT_A_RANGE = gettext_noop("%(entry)r is not an address range (e.g. 203.0.113.0/24 or 2001:db8::/48)")
TOO_NARROW = gettext_noop(
    "%(entry)r is narrower than /%(prefix)d, the prefix IPv6 posters are counted by "
    "(UTAKATA_IPV6_PREFIX): it could never match"
)


class RangeError(ValueError):
    """An entry that is not a range a poster could be in; says so in English, or translated()."""

    def __init__(self, message: str, **params) -> None:
        # English when raised: the settings read UTAKATA_BANNED_RANGES before translations can load.
        super().__init__(message % params)
        self.message, self.params = message, params

    def translated(self) -> str:
        return gettext(self.message) % self.params


def parse(text: str, ipv6_prefix: int) -> tuple[Network, ...]:
    """The networks a ranges setting names; RangeError saying which entry is wrong."""
    networks = []
    for entry in SEPARATORS.split(text.strip()):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise RangeError(NOT_A_RANGE, entry=entry) from None
        if network.version == 6 and network.prefixlen > ipv6_prefix:
            raise RangeError(TOO_NARROW, entry=entry, prefix=ipv6_prefix)
        networks.append(network)
    return tuple(networks)


@lru_cache(maxsize=256)
def _networks(text: str, ipv6_prefix: int) -> tuple[Network, ...]:
    try:
        return parse(text, ipv6_prefix)
    except ValueError:
        # A value the log holds from before it was checked: its good entries still hold.
        kept = []
        for entry in SEPARATORS.split(text.strip()):
            try:
                kept += parse(entry, ipv6_prefix)
            except ValueError:
                continue
        return tuple(kept)


def problem(text: str) -> str | None:
    """Why a board's banned_ranges cannot be set to this (None if it can)."""
    try:
        parse(text, settings.IPV6_PREFIX)
    except RangeError as exc:
        return f"banned_ranges: {exc.translated()}"
    return None


def banned(address: str, board_ranges: str) -> bool:
    """Whether a poster's address (as counted) is in the deployment's or the board's banned ranges."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    prefix = settings.IPV6_PREFIX
    return any(ip in net for net in _networks(settings.BANNED_RANGES, prefix) + _networks(board_ranges, prefix))
