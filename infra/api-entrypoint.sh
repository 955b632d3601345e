#!/bin/sh
# API image start: artifacts and dbt docs from S3, secrets into settings, then
# - with arguments, that command (the daily workflow's task runs `tmdb refresh --skip-ingest`);
# - without, uvicorn with one worker per CPU the task was given (WEB_CONCURRENCY overrides), and
#   a background loop that syncs the artifacts again every ARTIFACTS_SYNC_SECONDS (default 300),
#   so the API picks up what the daily refresh publishes without a restart.
set -eu

HERE="$(dirname "$0")"

if [ -n "${ARTIFACTS_S3_URI:-}" ]; then
    python "$HERE/api_bootstrap.py" sync
fi

if [ -n "${DATABASE_URL_SECRET_ARN:-}${TMDB_API_TOKEN_SECRET_ARN:-}" ]; then
    # Prints `export NAME='value'` lines (shell-quoted); the values never reach the task definition.
    eval "$(python "$HERE/api_bootstrap.py" env)"
fi

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

if [ -n "${ARTIFACTS_S3_URI:-}" ] && [ "${ARTIFACTS_SYNC_SECONDS:-300}" != 0 ]; then
    # Each file lands with one rename and `current` is swapped last (api_bootstrap.py), so the
    # running API never reads a half-written file. It dies with the container.
    python "$HERE/api_bootstrap.py" sync --every "${ARTIFACTS_SYNC_SECONDS:-300}" &
fi

WORKERS="${WEB_CONCURRENCY:-$(python "$HERE/api_bootstrap.py" workers)}"

exec uvicorn api.main:app \
    --host 0.0.0.0 \
    --port "${PORT:-8000}" \
    --workers "$WORKERS" \
    --proxy-headers \
    --forwarded-allow-ips '*' \
    --timeout-keep-alive 75
