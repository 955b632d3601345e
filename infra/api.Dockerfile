# The HTTP API for ECS Fargate (infra/template.yaml). Build from the repository root:
#   docker build -f infra/api.Dockerfile -t tmdb-api .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RUNTIME__DLTHUB_TELEMETRY=false \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DO_NOT_TRACK=1 \
    TMDB_STATE_DIR=/app/state \
    TMDB_ARTIFACTS_DIR=/app/state/artifacts \
    DBT_TARGET_PATH=/app/state/dbt-docs \
    PORT=8000

WORKDIR /app

# Runtime dependencies at the locked versions, without the dev extras.
COPY pyproject.toml requirements.lock README.md ./
RUN pip install "uv>=0.4,<1" \
 && uv pip compile --quiet pyproject.toml -c requirements.lock -o /tmp/runtime.txt \
 && uv pip install --system --quiet -r /tmp/runtime.txt \
 && rm /tmp/runtime.txt

# Everything but the demo's stand-ins: the local TMDB server (ingestion/fake_tmdb/) and the Gemini
# stand-in (cli/gemini_standin.py), which the API never imports and .dockerignore keeps out of
# the build context (tests/infra/test_images.py). The CLI is whole: the daily workflow's task runs
# `tmdb refresh` from this image.
COPY warehouse/ warehouse/
COPY ingestion/*.py ingestion/
COPY ingestion/tmdb/ ingestion/tmdb/
COPY ml/ ml/
COPY api/ api/
COPY cli/ cli/
COPY dbt_project/ dbt_project/
COPY dbt_project.yml profiles.yml ./
COPY infra/api-entrypoint.sh infra/api_bootstrap.py infra/
RUN uv pip install --system --quiet --no-deps . \
 && chmod 0755 infra/api-entrypoint.sh \
 && useradd --system --uid 10001 --home-dir /app/state --shell /usr/sbin/nologin app \
 && mkdir -p /app/state/artifacts /app/state/dbt-docs \
 && chown -R app:app /app/state

USER app
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/health', timeout=4)"

ENTRYPOINT ["/app/infra/api-entrypoint.sh"]
