"""WSGI entry point for gunicorn (each worker imports it: preload_app is off)."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boards_site.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Make the worker's log client now (boto3 loads its S3 model: tens of MB), not in a poster's request.

    And probe it: on an S3 endpoint that ignores conditional writes the worker
    does not boot, and gunicorn stops saying why ("Worker failed to boot").
    """
    from board.log import UnsafeLog, check_at_start

    try:
        check_at_start()
    except UnsafeLog as exc:
        raise ImproperlyConfigured(f"refusing to start: {exc}") from exc
    except Exception:  # noqa: BLE001 - a log that cannot be built now says so at the first post
        pass


_warm()
