"""The embedded cache's table lives in a database of its own (settings: DATABASES["cache"])."""

from __future__ import annotations

CACHE_APP = "django_cache"  # the app label of Django's database cache model


class CacheRouter:
    """Send the database cache to the ``cache`` database, and nothing else there."""

    def db_for_read(self, model, **hints):
        return "cache" if model._meta.app_label == CACHE_APP else None

    def db_for_write(self, model, **hints):
        return "cache" if model._meta.app_label == CACHE_APP else None

    def allow_migrate(self, db, app_label, **hints):
        if app_label == CACHE_APP:
            return db == "cache"
        return None if db != "cache" else False
