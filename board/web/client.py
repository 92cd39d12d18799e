"""Who is posting: the client address, used only to derive IDs and cooldowns."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The poster's address; behind proxies, the one the nearest trusted proxy saw.

    A client can put anything in X-Forwarded-For; each proxy only appends the
    address it was reached from. So the entry counted TRUSTED_PROXY_HOPS from
    the right is the first one no client could forge (the leftmost is theirs
    to choose, and would let them dodge bans and cooldowns or wear another's ID).
    """
    if settings.CLIENT_ADDR_HEADER:
        hops = [h.strip() for h in request.META.get(settings.CLIENT_ADDR_HEADER, "").split(",") if h.strip()]
        if len(hops) >= settings.TRUSTED_PROXY_HOPS:
            return hops[-settings.TRUSTED_PROXY_HOPS]
    return request.META.get("REMOTE_ADDR", "")
