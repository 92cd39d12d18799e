"""Backend selection by URL, the way Django picks a cache backend.

A setting is a dict ``{"BACKEND": "dotted.path.Class", "LOCATION": ..., "OPTIONS": {...}}``;
``parse_url`` turns an environment URL into one, ``BackendHandler`` imports and
keeps one instance per process (per thread where the client is not thread-safe).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def parse_url(url: str, schemes: dict[str, str], setting: str) -> dict[str, Any]:
    """Turn ``scheme://location?opt=val`` into a backend setting dict."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        known = ", ".join(f"{s}://" for s in sorted(schemes))
        raise ImproperlyConfigured(f"{setting}={url!r}: unknown scheme {parts.scheme!r} (known: {known})")
    location = (parts.netloc + parts.path) if parts.scheme != "file" else parts.path
    return {
        "BACKEND": schemes[parts.scheme],
        "LOCATION": location,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def refuse_unknown(options: dict, known: frozenset[str], owner: str) -> None:
    """Refuse options nobody reads: a misspelt one would otherwise be ignored without a word."""
    unknown = sorted(set(options) - known)
    if unknown:
        known_ones = ", ".join(sorted(known))
        raise ImproperlyConfigured(f"{owner}: unknown option(s) {', '.join(unknown)} (known: {known_ones})")


def option(options: dict, name: str, default: Any, kind: type, owner: str, zero: bool = False) -> Any:
    """Option ``name`` of a backend URL's query as ``kind``, or default when absent.

    Above zero (or zero too, with ``zero``); anything else is refused naming the option.
    """
    raw = options.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(f"{owner} option {name}={raw!r} is not {what}") from None
    if value < 0 or value == 0 and not zero:
        raise ImproperlyConfigured(f"{owner} option {name}={raw!r} must be {'0 or more' if zero else 'above 0'}")
    return value


class BackendHandler:
    """Lazily build the backend a setting names: once per thread, or once per process when shared.

    A shared backend must be safe to use from several threads at once (the
    log's are: boto3 clients are, the local and memory logs lock); sharing it
    keeps one connection pool per process instead of one per gunicorn thread.
    """

    def __init__(self, setting: str, shared: bool = False) -> None:
        self.setting = setting
        self.shared = shared
        self._local = threading.local()
        self._shared: tuple[int, Any] | None = None  # (pid, backend): a forked child builds its own
        self._lock = threading.Lock()

    def config(self) -> dict[str, Any]:
        from django.conf import settings

        config = getattr(settings, self.setting, None)
        if not config or "BACKEND" not in config:
            raise ImproperlyConfigured(f"settings.{self.setting} must name a BACKEND")
        return config

    def create(self, config: dict[str, Any] | None = None) -> Any:
        config = config or self.config()
        try:
            cls = import_string(config["BACKEND"])
        except ImportError as exc:
            raise ImproperlyConfigured(f"{self.setting}: cannot import {config['BACKEND']!r}: {exc}") from exc
        try:
            return cls(config.get("LOCATION", ""), dict(config.get("OPTIONS") or {}))
        except ValueError as exc:  # a location the backend cannot use (file://, riak://h:web)
            # Named as the variable it is read from (boards_site/settings.py), not Python's ValueError.
            raise ImproperlyConfigured(f"{self.setting}_URL: {exc}") from exc

    def get(self) -> Any:
        if self.shared:
            shared = self._shared
            if shared is None or shared[0] != os.getpid():
                with self._lock:
                    shared = self._shared
                    if shared is None or shared[0] != os.getpid():
                        shared = self._shared = (os.getpid(), self.create())
            return shared[1]
        backend = getattr(self._local, "backend", None)
        if backend is None:
            backend = self._local.backend = self.create()
        return backend

    def reset(self) -> None:
        """Forget the instance (tests swap settings; forks need new sockets)."""
        backend = getattr(self._local, "backend", None)
        if backend is not None:
            backend.close()
        self._local = threading.local()
        shared, self._shared = self._shared, None
        if shared is not None and shared[0] == os.getpid():
            shared[1].close()
