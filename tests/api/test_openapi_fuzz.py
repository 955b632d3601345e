"""schemathesis over the OpenAPI schema: whatever a client sends, no answer is a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import sql_then_text

EXAMPLES_PER_OPERATION = 30


def test_no_server_errors(api, gemini) -> None:
    gemini.respond_with(sql_then_text("select genre_name from marts.dim_genres order by 1"))
    client = api(ASK_REQUESTS_PER_MINUTE="1000")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_5xx(case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                error = response.json()["error"]
                assert set(error) == {"code", "message"}
                assert "Traceback" not in error["message"]

        no_5xx()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /predict", "POST /ask", "POST /predict/batch", "GET /health"} <= set(checked)
