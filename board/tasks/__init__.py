"""What runs in the background: Celery tasks, each a thin wrapper around a plain function."""

# Celery's autodiscovery imports this package only (boards_site/celery.py), so
# the task modules are imported here: every worker then registers every task.
from board.tasks import fanout, health, lifecycle  # noqa: E402,F401
