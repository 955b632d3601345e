#!/bin/sh
# API container start: artifacts and dbt docs from S3, secrets into settings, then uvicorn with
# one worker per CPU the task was given (WEB_CONCURRENCY overrides).
set -eu

HERE="$(dirname "$0")"

if [ -n "${ARTIFACTS_S3_URI:-}" ]; then
    python "$HERE/api_bootstrap.py" sync
fi

if [ -n "${DATABASE_URL_SECRET_ARN:-}${TMDB_API_TOKEN_SECRET_ARN:-}" ]; then
    # Prints `export NAME='value'` lines (shell-quoted); the values never reach the task definition.
    eval "$(python "$HERE/api_bootstrap.py" env)"
fi

WORKERS="${WEB_CONCURRENCY:-$(python "$HERE/api_bootstrap.py" workers)}"

exec uvicorn api.main:app \
    --host 0.0.0.0 \
    --port "${PORT:-8000}" \
    --workers "$WORKERS" \
    --proxy-headers \
    --forwarded-allow-ips '*' \
    --timeout-keep-alive 75
