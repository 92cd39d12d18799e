"""Utakata's settings, all read from the environment.

Every variable is listed in README.md ("Configuration"). A bad value stops the
process at start with ImproperlyConfigured rather than surprising a request.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu.transport import TRANSPORT_ALIASES

from board.lib.backends import parse_url
from board.lib.env import envbool, envfloat, envint
from board.log import SCHEMES as LOG_SCHEMES
from board.ops.logformat import FORMATS as LOG_FORMATS
from board.ops.logformat import LEVELS as LOG_LEVELS
from board.ops.logformat import logging_config
from board.ops.multiproc import prepare as prepare_metrics
from board.posting.numbers import KEY_WINDOW
from board.readmodel import MODEL_VERSION
from board.store import SCHEMES as STORE_SCHEMES

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = envbool("UTAKATA_DEBUG")
# Empty is the default, as for every variable: Path("") would be the current directory.
DATA_DIR = Path(os.environ.get("UTAKATA_DATA_DIR") or BASE_DIR / "var").resolve()

# Prometheus metrics on a port of their own, kept private by the operator (board/ops/metrics.py);
# empty serves none. Set up before anything imports prometheus-client (board/ops/multiproc.py).
METRICS_ADDR = os.environ.get("UTAKATA_METRICS_ADDR", "")
prepare_metrics(METRICS_ADDR, DATA_DIR / "metrics")

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
# Behind a proxy the client address comes from this header (e.g. HTTP_X_FORWARDED_FOR),
# trusted only from the proxies' own networks; empty means REMOTE_ADDR, which is
# right when gunicorn faces the clients (board/web/client.py).
CLIENT_ADDR_HEADER = os.environ.get("UTAKATA_CLIENT_ADDR_HEADER", "")
TRUSTED_PROXIES = [n.strip() for n in os.environ.get("UTAKATA_TRUSTED_PROXIES", "").split(",") if n.strip()]
# How many proxies are chained in front of gunicorn (a load balancer and nginx: 2).
TRUSTED_PROXY_HOPS = envint("UTAKATA_TRUSTED_PROXY_HOPS", 1)
if TRUSTED_PROXY_HOPS < 1:
    raise ImproperlyConfigured(f"UTAKATA_TRUSTED_PROXY_HOPS={TRUSTED_PROXY_HOPS} must be at least 1")
if CLIENT_ADDR_HEADER and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "UTAKATA_CLIENT_ADDR_HEADER is set but UTAKATA_TRUSTED_PROXIES is empty: name the proxies' networks "
        "(e.g. 10.0.0.0/8), or anyone reaching gunicorn could choose their own address"
    )
try:
    for _network in TRUSTED_PROXIES:
        ipaddress.ip_network(_network, strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(f"UTAKATA_TRUSTED_PROXIES: {_exc}") from None
# IPv6 posters are counted by this prefix (one host has a /64 to pick from), as 2ch does.
IPV6_PREFIX = envint("UTAKATA_IPV6_PREFIX", 64)
if not 32 <= IPV6_PREFIX <= 128:
    raise ImproperlyConfigured(f"UTAKATA_IPV6_PREFIX={IPV6_PREFIX} must be 32..128")

# Address ranges refused at posting on every board (アク禁), CIDR, commas between
# (board/posting/ranges.py); each board adds its own in its banned_ranges setting.
BANNED_RANGES = os.environ.get("UTAKATA_BANNED_RANGES", "")
try:
    from board.posting.ranges import parse as _parse_ranges

    _parse_ranges(BANNED_RANGES, IPV6_PREFIX)
except ValueError as _exc:
    raise ImproperlyConfigured(f"UTAKATA_BANNED_RANGES: {_exc}") from None

INSTALLED_APPS = [
    # The moderation site is Django's admin (board/moderation/site.py). Its accounts are
    # events in the log, not rows of a local database: auth and contenttypes are here for
    # the admin's machinery, and their tables are never used.
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "board",
]

MIDDLEWARE = [
    # First: probes answer before the host check and any HTTPS redirect (board/ops/probes.py).
    "board.ops.probes.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the CSRF check: a body Django cannot read is refused as that, not as an expired form.
    "board.web.errors.RequireLength",
    "board.web.errors.ExplainNotAllowed",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    # Counts a request that failed on the store or the log, by kind (board/ops/metrics.py).
    "board.ops.metrics.CountErrors",
]

# Moderators' sessions are signed cookies: nothing to keep on a node (web nodes come and go).
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
ADMIN_SESSION_SECONDS = envint("UTAKATA_ADMIN_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_AGE = ADMIN_SESSION_SECONDS

# --- HTTPS: the site behind a proxy that terminates TLS -------------------------

# UTAKATA_TLS=1 says every page is served over HTTPS: plain HTTP is redirected, HSTS is sent,
# cookies are Secure. Health probes reach gunicorn directly over plain HTTP: /healthz and /readyz are
# answered by the first middleware, before this redirect (and the CSP), and the Prometheus metrics
# are served on a port of their own (UTAKATA_METRICS_ADDR), outside Django.
TLS = envbool("UTAKATA_TLS")
SECURE_SSL_REDIRECT = TLS
SECURE_HSTS_SECONDS = envint("UTAKATA_HSTS_SECONDS", 365 * 24 * 3600 if TLS else 0)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured(f"UTAKATA_HSTS_SECONDS={SECURE_HSTS_SECONDS} must not be negative")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("UTAKATA_HSTS_INCLUDE_SUBDOMAINS", str(TLS))
SECURE_HSTS_PRELOAD = envbool("UTAKATA_HSTS_PRELOAD", str(TLS))
# The proxy tells gunicorn the request came over HTTPS in a header it sets itself (overwriting any the
# client sent): "<META key>=<value>", e.g. HTTP_X_FORWARDED_PROTO=https. Without it every request
# looks like plain HTTP to Django, and UTAKATA_TLS=1 would redirect forever.
_ssl_header = os.environ.get("UTAKATA_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = None
if _ssl_header:
    _meta, _sep, _value = _ssl_header.partition("=")
    if not (_sep and _value and _meta.startswith("HTTP_") and _meta.replace("_", "").isalnum() and _meta.isupper()):
        raise ImproperlyConfigured(
            f"UTAKATA_PROXY_SSL_HEADER={_ssl_header!r}: use <META key>=<value>, e.g. HTTP_X_FORWARDED_PROTO=https"
        )
    SECURE_PROXY_SSL_HEADER = (_meta, _value)
SESSION_COOKIE_SECURE = envbool("UTAKATA_SECURE_COOKIES", str(TLS))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_FAILURE_VIEW = "board.web.views.csrf_failure"
# Content-Security-Policy (django-csp): the pages load their own CSS and script files and nothing
# else; no page has an inline script, style element or style attribute (tests/test_security_headers.py
# reads every template), and the charts are SVG with presentation attributes, which CSP allows.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "board.moderation.auth.LogBackend"]
# Sign-in throttling: django-axes counting failures in the cache (Redis), shared by every
# web node; after AXES_FAILURE_LIMIT failures of one username from one address, that pair
# waits AXES_COOLOFF_TIME.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
ADMIN_FAILURE_LIMIT = envint("UTAKATA_ADMIN_FAILURE_LIMIT", 5)
ADMIN_COOLOFF_MINUTES = envint("UTAKATA_ADMIN_COOLOFF_MINUTES", 15)
AXES_FAILURE_LIMIT = ADMIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "board.web.client.client_address"
AXES_VERBOSE = False

ROOT_URLCONF = "boards_site.urls"
WSGI_APPLICATION = "boards_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
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
# Each data-model version keeps generations of its own (board/store/generations.py).
UTAKATA_STORE["OPTIONS"].setdefault("model", MODEL_VERSION)

REDIS_URL = os.environ.get("REDIS_URL", "")
# redis-py's own schemes; anything else failed only at the first cache call, which the
# best-effort cache logs and goes on without (a cooldown not enforced, a commit not confirmed).
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r}: use redis://host:6379/0 (or rediss://, unix://)")
if REDIS_URL and UTAKATA_STORE["BACKEND"].endswith("RiakStore"):
    # Where a Riak store's writers leave the change tokens its readers check kept reads against.
    UTAKATA_STORE["OPTIONS"].setdefault("changes", REDIS_URL)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "board.lib.rediscache.RedisCache", "LOCATION": REDIS_URL}}
else:
    # One machine without Redis: Django's database cache in a local SQLite file is
    # shared by every local process and, unlike the file cache, adds atomically,
    # which the thread lock and the cooldown need (board/lib/localcache.py).
    DATABASES["cache"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "cache.sqlite3",
        "OPTIONS": {"timeout": 5},
    }
    DATABASE_ROUTERS = ["board.lib.dbrouter.CacheRouter"]
    CACHES = {"default": {"BACKEND": "board.lib.localcache.LocalDatabaseCache", "LOCATION": "utakata_cache"}}

# --- Celery ---------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
# A transport kombu knows (";" separates failover brokers): else every fan-out fails to queue,
# which a web node logs and answers as usual, and only reconcile applies the posts.
_unknown = [
    url for url in CELERY_BROKER_URL.split(";") if url.partition("://")[0] not in TRANSPORT_ALIASES or "://" not in url
]
if _unknown:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: {_unknown[0]!r} is not a broker URL "
        "(redis://host:6379/0, amqp://user:password@host//, filesystem://)"
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL == "filesystem://":
    # kombu's own lets a polling worker read a message half written, and die of it.
    CELERY_BROKER_TRANSPORT = "board.lib.filebroker:Transport"
    _queue = DATA_DIR / "queue"
    # kombu's filesystem transport does not create its folders: without them the
    # worker dies at start and every fan-out from the web fails.
    for _folder in ("processed", "control"):
        try:
            (_queue / _folder).mkdir(parents=True, exist_ok=True)
        except OSError as _exc:
            raise ImproperlyConfigured(
                f"UTAKATA_DATA_DIR={str(DATA_DIR)!r}: cannot make {_exc.filename}: {_exc.strerror}"
            ) from None
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
# Redis redelivers an unacknowledged task after this many seconds. It need not exceed the
# longest job: every job is safe to run twice at once, and a redelivered copy of a running
# rollup or snapshot finds its lease held and skips (board/lifecycle/due.py). Fan-out tasks
# take milliseconds; a shorter timeout only redelivers sooner what a lost worker held.
VISIBILITY_TIMEOUT = envint("UTAKATA_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("visibility_timeout", VISIBILITY_TIMEOUT)
# Two queues, each with workers of its own (deploy/entrypoint.sh, scripts/run-local): fan-out
# alone on "fanout", so that a long snapshot or rollup never delays a post reaching the
# store; every other task on "jobs".
CELERY_TASK_DEFAULT_QUEUE = "jobs"
CELERY_TASK_ROUTES = {"utakata.fanout.*": {"queue": "fanout"}}

# --- the board --------------------------------------------------------------

# Seconds a web process keeps a board's settings (read by every page): a change
# reaches every process within this time.
SETTINGS_TTL = envfloat("UTAKATA_SETTINGS_TTL", 1)
if SETTINGS_TTL < 0:
    raise ImproperlyConfigured(f"UTAKATA_SETTINGS_TTL={SETTINGS_TTL} must not be negative")
# Seconds a poster waits at most for the log to confirm a post (board/posting/confirm.py);
# past it they are told it is not confirmed yet, and that sending it again is safe.
COMMIT_DEADLINE = envfloat("UTAKATA_COMMIT_DEADLINE", 5)
if COMMIT_DEADLINE <= 0:
    raise ImproperlyConfigured(f"UTAKATA_COMMIT_DEADLINE={COMMIT_DEADLINE} must be positive")

# Retries of a fan-out task whose log or store is down; after them, reconcile applies the event.
FANOUT_MAX_RETRIES = envint("UTAKATA_FANOUT_MAX_RETRIES", 10)
CELERY_TASK_ANNOTATIONS = {"utakata.fanout.apply": {"max_retries": FANOUT_MAX_RETRIES}}

# /readyz reports a shared part (log, Redis) that has not answered within this many seconds as
# failing, rather than letting the probe itself time out (board/ops/probes.py).
PROBE_TIMEOUT_SECONDS = envfloat("UTAKATA_PROBE_TIMEOUT_SECONDS", 2)
if PROBE_TIMEOUT_SECONDS <= 0:
    raise ImproperlyConfigured(f"UTAKATA_PROBE_TIMEOUT_SECONDS={PROBE_TIMEOUT_SECONDS} must be positive")

# JSON lines in containers (the image sets json), text in a terminal (board/ops/logformat.py).
LOG_FORMAT = os.environ.get("UTAKATA_LOG_FORMAT", "text")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"UTAKATA_LOG_FORMAT={LOG_FORMAT!r}: use json or text")
LOG_LEVEL = os.environ.get("UTAKATA_LOG_LEVEL", "INFO")
if LOG_LEVEL not in LOG_LEVELS:  # else logging's own "Unable to configure root logger", naming nothing
    raise ImproperlyConfigured(f"UTAKATA_LOG_LEVEL={LOG_LEVEL!r}: use {', '.join(LOG_LEVELS)}")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
# Celery logs through the same configuration instead of replacing it with its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- the log's lifecycle (board/lifecycle) ------------------------------------

# An hour is rolled up into hourly/ once it closed this long ago: commits whose
# event time falls in the hour but land a little late are still in its first
# part (later ones become an extra part, so nothing is lost either way).
# Numbering leans on it too (board/posting/numbers.py): a claim stays in
# incoming/ at least this long, so a res-number hint is trusted for half of it,
# and thread keys, which run up to KEY_WINDOW seconds ahead of the clock, need
# it above twice that window.
ROLLUP_GRACE_SECONDS = envint("UTAKATA_ROLLUP_GRACE_SECONDS", 300)
if ROLLUP_GRACE_SECONDS < 2 * KEY_WINDOW:
    raise ImproperlyConfigured(
        f"UTAKATA_ROLLUP_GRACE_SECONDS={ROLLUP_GRACE_SECONDS} must be at least {2 * KEY_WINDOW}: twice the "
        f"{KEY_WINDOW} seconds thread keys may run ahead of the clock, or a rolled-up thread key could be reused"
    )
# How often a snapshot folds the new hourly segments into the all-time log: one is started
# once LATEST is this old and segments wait that it does not hold (board/lifecycle/due.py).
SNAPSHOT_INTERVAL_HOURS = envint("UTAKATA_SNAPSHOT_INTERVAL_HOURS", 24)
# Beat ticks this often: each tick looks at the log and starts the jobs it says are due.
JOB_TICK_SECONDS = envint("UTAKATA_JOB_TICK_SECONDS", 60)
# A job's lease (board/lib/lease.py) lapses this long after its last sign of progress, so
# a job whose worker died is started again by a later tick.
JOB_LEASE_SECONDS = envint("UTAKATA_JOB_LEASE_SECONDS", 900)
# A job that failed is started again after this pause, not on every tick.
JOB_RETRY_SECONDS = envint("UTAKATA_JOB_RETRY_SECONDS", 600)
# Readiness and the log-health page say "rollup late" once the oldest event waiting in incoming/
# belongs to an hour that ended this long ago (one missed hourly run by default); "snapshot late"
# once segments wait that LATEST lacks and LATEST is this old (one missed snapshot by default)
# (board/lifecycle/state.py).
ROLLUP_LATE_SECONDS = envint("UTAKATA_ROLLUP_LATE_SECONDS", 3600)
SNAPSHOT_LATE_SECONDS = envint("UTAKATA_SNAPSHOT_LATE_SECONDS", 2 * SNAPSHOT_INTERVAL_HOURS * 3600)
# Older snapshots are kept this long for point-in-time restore (LATEST always is).
SNAPSHOT_RETENTION_DAYS = envint("UTAKATA_SNAPSHOT_RETENTION_DAYS", 30)
# Daily bundles move to cold storage after this many days. Keep it at least
# SNAPSHOT_RETENTION_DAYS, so a point-in-time restore within the retention
# never needs an archived object.
GLACIER_DAYS = envint("UTAKATA_GLACIER_DAYS", 30)
GLACIER_STORAGE_CLASS = os.environ.get("UTAKATA_GLACIER_STORAGE_CLASS", "GLACIER")
if GLACIER_STORAGE_CLASS not in {"GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "STANDARD_IA", "ONEZONE_IA"}:
    raise ImproperlyConfigured(
        f"UTAKATA_GLACIER_STORAGE_CLASS={GLACIER_STORAGE_CLASS!r}: "
        "use GLACIER, DEEP_ARCHIVE, GLACIER_IR, STANDARD_IA or ONEZONE_IA"
    )
# Daily bundles (the archive, which still holds deleted posts' text) expire
# after this many days; 0 keeps them forever.
ARCHIVE_RETENTION_DAYS = envint("UTAKATA_ARCHIVE_RETENTION_DAYS", 0)
# Reconcile re-applies committed events whose fan-out was lost, every this many
# seconds, once an event is older than the min age (its fan-out had its chance).
RECONCILE_INTERVAL_SECONDS = envint("UTAKATA_RECONCILE_INTERVAL_SECONDS", 300)
RECONCILE_MIN_AGE_SECONDS = envint("UTAKATA_RECONCILE_MIN_AGE_SECONDS", 60)
# A thread's number sequence in Redis expires half a rollup grace after its last use: the sweep of
# numbers whose posters died (board/posting/numbers.py) must come round well within that.
NUMBER_SWEEP_SECONDS = envint("UTAKATA_NUMBER_SWEEP_SECONDS", 30)
for _name in (
    "ROLLUP_GRACE_SECONDS",
    "SNAPSHOT_INTERVAL_HOURS",
    "GLACIER_DAYS",
    "RECONCILE_INTERVAL_SECONDS",
    "NUMBER_SWEEP_SECONDS",
    "JOB_TICK_SECONDS",
    "JOB_LEASE_SECONDS",
    "JOB_RETRY_SECONDS",
    "ROLLUP_LATE_SECONDS",
    "SNAPSHOT_LATE_SECONDS",
    "ADMIN_SESSION_SECONDS",
    "ADMIN_FAILURE_LIMIT",
    "VISIBILITY_TIMEOUT",
):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"UTAKATA_{_name}={globals()[_name]} must be positive")
# 0 means something for these (keep no older snapshot, keep bundles forever, no retry, no wait);
# below it is a slip: -30 retention days pruned every snapshot but LATEST, as 0 does.
for _name in (
    "SNAPSHOT_RETENTION_DAYS",
    "ARCHIVE_RETENTION_DAYS",
    "RECONCILE_MIN_AGE_SECONDS",
    "FANOUT_MAX_RETRIES",
    "ADMIN_COOLOFF_MINUTES",
):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"UTAKATA_{_name}={globals()[_name]} must not be negative")

# The log-health page's census (board/lifecycle/health.py): how often a job lists the whole log to
# count storage by class, the tail, the fan-out lag and posts per hour (kept in the store; the page
# never lists the bucket), and how many days the charts show.
HEALTH_CENSUS_SECONDS = envint("UTAKATA_HEALTH_CENSUS_SECONDS", 300)
HEALTH_DAYS = envint("UTAKATA_HEALTH_DAYS", 7)
for _name in ("HEALTH_CENSUS_SECONDS", "HEALTH_DAYS"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"UTAKATA_{_name}={globals()[_name]} must be positive")

from celery.schedules import crontab  # noqa: E402

# Celery beat: the lifecycle's periodic tasks (board/tasks/lifecycle.py). Rollup and snapshot are
# not on a clock: the tick starts them when the log says they are due, so a beat that was just
# started (it also ticks once at start) or replaced loses nothing it kept in memory.
CELERY_BEAT_SCHEDULE = {
    "due-jobs": {"task": "utakata.lifecycle.due", "schedule": timedelta(seconds=JOB_TICK_SECONDS)},
    "reconcile": {"task": "utakata.lifecycle.reconcile", "schedule": timedelta(seconds=RECONCILE_INTERVAL_SECONDS)},
    "number-sweep": {"task": "utakata.numbers.sweep", "schedule": timedelta(seconds=NUMBER_SWEEP_SECONDS)},
    "retire-generations": {"task": "utakata.store.retire", "schedule": timedelta(hours=1)},
    # Open purges only (nothing is read once every purge is done): archived bundles a restore made
    # readable, and the second look at what was written since a purge (board/lifecycle/purge.py).
    "purge-sweep": {"task": "utakata.lifecycle.purge", "schedule": crontab(minute=40)},
    # The log-health page's figures that need a listing of the whole log (board/lifecycle/health.py).
    "health-census": {"task": "utakata.health.census", "schedule": timedelta(seconds=HEALTH_CENSUS_SECONDS)},
}
