"""The Celery app: settings come from Django's (CELERY_*), tasks from board.tasks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boards_site.settings")

app = Celery("utakata")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["board.tasks"], related_name=None)
