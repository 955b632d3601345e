# The three ingestion Lambdas share this image; each function's ImageConfig.Command picks its
# handler (infra/template.yaml). Build context: the repository root (`sam build` does this).
FROM public.ecr.aws/lambda/python:3.11

# Only the runtime dependencies: no dbt, scikit-learn, FastAPI (tests/infra checks this).
COPY requirements-lambda.txt ${LAMBDA_TASK_ROOT}/
RUN pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements-lambda.txt

# The handlers' code, without the local TMDB server (ingestion/fake_tmdb/) and with no cli/ (the
# Gemini stand-in): demo and test tools, never imported by a handler (tests/infra/test_images.py).
COPY warehouse/ ${LAMBDA_TASK_ROOT}/warehouse/
COPY ingestion/*.py ${LAMBDA_TASK_ROOT}/ingestion/
COPY ingestion/tmdb/ ${LAMBDA_TASK_ROOT}/ingestion/tmdb/

# Lambda can only write under /tmp; dlt's folders and any home-dir config go there.
ENV RUNTIME__DLTHUB_TELEMETRY=false \
    TMDB_STATE_DIR=/tmp/tmdb \
    DLT_DATA_DIR=/tmp/tmdb/dlt-home \
    HOME=/tmp

CMD ["ingestion.lambda_handlers.daily_handler"]
