"""Settings for the benchmarks' server: the real ones, plus a bench-only urlconf (bench/urls.py)."""

from boards_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
