"""Test settings: the real settings module, with in-memory backends by default.

Tests that need the real parts (Redis, an S3 endpoint, a worker) ask for them
through fixtures in conftest.py, which override these.
"""

import os
import tempfile

os.environ.setdefault("UTAKATA_DEBUG", "1")
os.environ.setdefault("UTAKATA_DATA_DIR", tempfile.mkdtemp(prefix="utakata-test-"))
os.environ.setdefault("UTAKATA_LOG_URL", "memory://tests")
os.environ.setdefault("UTAKATA_STORE_URL", "memory://tests")
os.environ.pop("REDIS_URL", None)

from boards_site.settings import *  # noqa: E402,F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Unit tests queue fan-out in memory and apply it themselves (tests/helpers.py);
# the tests that need a real worker start one against a real broker.
# Set here, not through the environment: Celery prefers an environment CELERY_BROKER_URL to
# the settings, and the tests that start a real broker set it in the settings.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT = None  # the embedded broker's, were the project's settings on filesystem://
CELERY_BROKER_TRANSPORT_OPTIONS = {}

# Static files straight from static/ (no collectstatic in tests).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - from the star import above
WHITENOISE_USE_FINDERS = True

# The tests' cache is in memory (locmem), which axes rightly calls unfit for production.
SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# Moderators' passwords: a fast hasher in tests (production keeps Django's PBKDF2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
