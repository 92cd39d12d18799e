#!/bin/sh
# One image, several roles: web (gunicorn), the Celery workers, beat (the scheduler).
# fanout and jobs are the two queues' workers (a long snapshot never delays fan-out);
# worker consumes both, for a host that runs one worker container.
set -eu
role=${1:-web}
if [ -n "${UTAKATA_METRICS_ADDR:-}" ]; then
  # The processes' metric files of an earlier run of this container would be added to this one's.
  export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/utakata-metrics}"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
case "$role" in
  web)
    python manage.py rehydrate --if-empty
    exec gunicorn --config deploy/gunicorn.conf.py boards_site.wsgi ;;
  fanout)
    exec celery -A boards_site worker --loglevel INFO --queues fanout --hostname "fanout@%h" ;;
  jobs)
    exec celery -A boards_site worker --loglevel INFO --queues jobs --hostname "jobs@%h" \
      --concurrency "${UTAKATA_JOBS_CONCURRENCY:-4}" ;;
  worker)
    exec celery -A boards_site worker --loglevel INFO --queues fanout,jobs ;;
  beat)
    # The schedule file may be lost with the container: the jobs that matter are
    # started when the log says they are due, not when this file says (README, "Jobs").
    exec celery -A boards_site beat --loglevel INFO --schedule /tmp/celerybeat-schedule ;;
  *)
    exec "$@" ;;
esac
