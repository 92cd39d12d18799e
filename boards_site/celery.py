"""The Celery app: settings come from Django's (CELERY_*), tasks from board.tasks."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_shutdown, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boards_site.settings")

app = Celery("utakata")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["board.tasks"], related_name=None)


@worker_init.connect
def refuse_an_unsafe_log(**_: object) -> None:
    """A worker does not start on an S3 endpoint that ignores conditional writes (it writes rollups, snapshots)."""
    from board.log import UnsafeLog, check_at_start

    try:
        check_at_start()
    except UnsafeLog as exc:
        # Celery logs and swallows a receiver's exception; SystemExit is not one.
        raise SystemExit(f"refusing to start: {exc}") from exc


@beat_init.connect
def tick_at_start(sender: object = None, **_: object) -> None:
    """A beat that just started looks at the log at once, not one tick later: an overdue job starts now."""
    app.send_task("utakata.lifecycle.due")


@worker_ready.connect
def serve_metrics(**_: object) -> None:
    """The worker's main process serves its pool's metrics on UTAKATA_METRICS_ADDR (board/ops/metrics.py)."""
    from django.conf import settings

    if settings.METRICS_ADDR:
        from board.ops.metrics import serve

        serve(settings.METRICS_ADDR)


@worker_process_shutdown.connect
def forget_pool_process(pid: int | None = None, **_: object) -> None:
    from board.ops.metrics import process_exited

    process_exited(pid or os.getpid())
