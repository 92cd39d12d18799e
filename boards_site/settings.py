"""Utakata's settings, all read from the environment.

Every variable is listed in README.md ("Configuration"). A bad value stops the
process at start with ImproperlyConfigured rather than surprising a request.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from board.lib.backends import parse_url
from board.log import SCHEMES as LOG_SCHEMES
from board.store import SCHEMES as STORE_SCHEMES

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


DEBUG = envbool("UTAKATA_DEBUG")
DATA_DIR = Path(os.environ.get("UTAKATA_DATA_DIR", BASE_DIR / "var")).resolve()

SECRET_KEY = os.environ.get("UTAKATA_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("UTAKATA_SECRET_KEY must be set unless UTAKATA_DEBUG=1")
    SECRET_KEY = "utakata-insecure-development-key"
# The daily poster ID is an HMAC of the address under this secret; rotating it
# changes every ID, so it is kept apart from SECRET_KEY.
ID_SECRET = os.environ.get("UTAKATA_ID_SECRET", SECRET_KEY)

ALLOWED_HOSTS = [h for h in os.environ.get("UTAKATA_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("UTAKATA_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# Behind a proxy the client address comes from this header (e.g. HTTP_X_FORWARDED_FOR);
# empty means REMOTE_ADDR, which is right when gunicorn faces the clients.
CLIENT_ADDR_HEADER = os.environ.get("UTAKATA_CLIENT_ADDR_HEADER", "")

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "boards_site.urls"
WSGI_APPLICATION = "boards_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Django's own tables are not used by the board (its data is the log and the
# store); an in-memory database keeps the framework content.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

LANGUAGE_CODE = "ja"
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- backends -------------------------------------------------------------

LOG_URL = os.environ.get("UTAKATA_LOG_URL", f"file://{DATA_DIR / 'log'}")
UTAKATA_LOG = parse_url(LOG_URL, LOG_SCHEMES, "UTAKATA_LOG_URL")
if UTAKATA_LOG["BACKEND"].endswith("S3Log"):
    UTAKATA_LOG["OPTIONS"].setdefault("endpoint_url", os.environ.get("UTAKATA_S3_ENDPOINT_URL", ""))
    UTAKATA_LOG["OPTIONS"].setdefault("region_name", os.environ.get("UTAKATA_S3_REGION", "us-east-1"))

STORE_URL = os.environ.get("UTAKATA_STORE_URL", f"sqlite://{DATA_DIR / 'store.sqlite3'}")
UTAKATA_STORE = parse_url(STORE_URL, STORE_SCHEMES, "UTAKATA_STORE_URL")

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # One machine without Redis: a file cache is shared by every local process,
    # which is what the sequencer hint and the cooldowns need.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL == "filesystem://":
    _queue = DATA_DIR / "queue"
    # kombu's filesystem transport does not create its folders: without them the
    # worker dies at start and every fan-out from the web fails.
    for _folder in ("processed", "control"):
        (_queue / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_queue / "processed"),
        # Broadcasts (celery inspect/control) would otherwise go to ./control.
        "control_folder": str(_queue / "control"),
        "store_processed": False,
        # The filesystem transport polls; once a second would let readers wait that long.
        "polling_interval": 0.1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Redis redelivers an unacknowledged task after this many seconds; it must
# exceed the longest task (a snapshot), or the task would run twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("visibility_timeout", envint("UTAKATA_VISIBILITY_TIMEOUT", 3600))

# --- the board --------------------------------------------------------------

# How long a post view waits for a cooldown lock etc.; see board/posting.
FANOUT_MAX_RETRIES = envint("UTAKATA_FANOUT_MAX_RETRIES", 10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("UTAKATA_LOG_LEVEL", "INFO")},
}
