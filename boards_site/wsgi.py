"""WSGI entry point for gunicorn (each worker imports it: preload_app is off)."""

import contextlib
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boards_site.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Make the worker's log client now (boto3 loads its S3 model: tens of MB), not in a poster's request."""
    from board.log import get_log

    with contextlib.suppress(Exception):  # a log that cannot be built now says so at the first post
        get_log()


_warm()
