"""What runs in the background: Celery tasks, each a thin wrapper around a plain function."""
