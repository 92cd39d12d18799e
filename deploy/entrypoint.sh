#!/bin/sh
# One image, three roles: web (gunicorn), worker (Celery), beat (the scheduler).
set -eu
role=${1:-web}
case "$role" in
  web)
    python manage.py rehydrate --if-empty
    exec gunicorn --config deploy/gunicorn.conf.py boards_site.wsgi ;;
  worker)
    exec celery -A boards_site worker --loglevel INFO ;;
  beat)
    exec celery -A boards_site beat --loglevel INFO --schedule /tmp/celerybeat-schedule ;;
  *)
    exec "$@" ;;
esac
