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

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SEPARATORS = re.compile(r"[\s,]+")


def parse(text: str, ipv6_prefix: int) -> tuple[Network, ...]:
    """The networks a ranges setting names; ValueError saying which entry is wrong."""
    networks = []
    for entry in SEPARATORS.split(text.strip()):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an address range (e.g. 203.0.113.0/24 or 2001:db8::/48)") from None
        if network.version == 6 and network.prefixlen > ipv6_prefix:
            raise ValueError(
                f"{entry!r} is narrower than /{ipv6_prefix}, the prefix IPv6 posters are counted by "
                "(UTAKATA_IPV6_PREFIX): it could never match"
            )
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
    except ValueError as exc:
        return f"banned_ranges: {exc}"
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
