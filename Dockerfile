# syntax=docker/dockerfile:1
# Multi-stage: wheels are built once, the runtime image carries no compiler.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=boards_site.settings \
    UTAKATA_DATA_DIR=/var/lib/utakata \
    UTAKATA_LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /app utakata \
 && mkdir -p /var/lib/utakata/store && chown -R utakata /var/lib/utakata
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=utakata . .
# collectstatic needs settings, not secrets: a throwaway key is enough here.
RUN UTAKATA_SECRET_KEY=build python manage.py collectstatic --noinput -v 0 \
 && chown -R utakata /var/lib/utakata
USER utakata
EXPOSE 8000
# The container's disk is volatile: every start restores the store from the log
# when it is empty (a new container), then serves.
ENTRYPOINT ["deploy/entrypoint.sh"]
CMD ["web"]
