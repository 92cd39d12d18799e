"""Who is posting: the client address, used only to derive IDs, cooldowns and range bans, never stored.

Behind proxies the address comes from a forwarded header (UTAKATA_CLIENT_ADDR_HEADER,
e.g. X-Forwarded-For), but only when the request came from one of the proxies'
own networks (UTAKATA_TRUSTED_PROXIES): anyone else reaching gunicorn could
write any address there. The header's list is walked from the right, each
proxy having appended the address it was reached from, skipping entries that
are trusted proxies themselves (a chain of UTAKATA_TRUSTED_PROXY_HOPS proxies
skips at most that many minus one); the first other entry is the client
(entries further left are the client's to forge).

An IPv6 client is its /64 (UTAKATA_IPV6_PREFIX), as 2ch's IDs group them: one
host has a whole /64 to choose addresses from.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4)
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in spec)


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None) -> bool:
    return address is not None and any(address in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def peer_address(request: HttpRequest) -> Address | None:
    """The client's own address, parsed; None if there is none to be had."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    header = settings.CLIENT_ADDR_HEADER
    if not header or not _trusted(peer):
        return peer
    hops = [h for h in request.META.get(header, "").split(",") if h.strip()]
    skipped = 0
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return peer  # a garbled entry: the proxy's own peer is all that can be known
        if _trusted(address) and skipped < settings.TRUSTED_PROXY_HOPS - 1:
            skipped += 1
            continue
        return address
    return peer


def grouped(address: Address) -> str:
    """An address as the board counts posters: IPv4 whole, IPv6 by its network prefix."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.ip_network(f"{address}/{settings.IPV6_PREFIX}", strict=False)
        return str(network.network_address)
    return str(address)


def client_address(request: HttpRequest) -> str:
    """The poster's address as IDs, cooldowns and bans count it ("" if unknown)."""
    address = peer_address(request)
    return grouped(address) if address is not None else ""
