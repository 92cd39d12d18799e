"""System checks (``manage.py check``, and before every command run from the shell).

The log and the store are built lazily, at their first use: a location or an
option a backend refuses (``UTAKATA_LOG_URL=file://``, ``sqlite://``, a Riak
option that is not a number) otherwise showed at the first post, or in a
worker's log. Building them sends no request, so the check needs no service.
"""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register("utakata")
def backends_can_be_built(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An error for the log or the store if the backend the settings name refuses its location or options."""
    from board import log, store

    found = []
    for handler, variable, ident in (
        (log.handler, "UTAKATA_LOG_URL", "E001"),
        (store.handler, "UTAKATA_STORE_URL", "E002"),
    ):
        try:
            handler.get()  # kept for the command that follows
        except ImproperlyConfigured as exc:
            found.append(
                checks.Error(str(exc), hint=f"see {variable} in README's configuration", id=f"utakata.{ident}")
            )
    return found
