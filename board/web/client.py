"""Who is posting: the client address, used only to derive IDs and cooldowns."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The poster's address; behind a proxy, the first hop of the configured header."""
    if settings.CLIENT_ADDR_HEADER:
        forwarded = request.META.get(settings.CLIENT_ADDR_HEADER, "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")
