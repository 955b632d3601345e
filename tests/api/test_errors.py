"""Domain errors become HTTP errors in one place (`api.errors`), each with its status and an
`{"error": {"code", "message"}}` body, whichever route lets them through."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from api import errors
from api.ask.service import AskFailed, AskFailure
from api.conversations import ConversationNotFound
from api.semantic.engine import SemanticLayerUnavailable
from api.semantic.query import InvalidMetricQuery
from api.text_to_sql.executor import DatabaseUnavailable, QueryFailed, QueryTimeout
from api.text_to_sql.schema_context import SchemaContextUnavailable
from ml.artifacts import ModelUnavailable

CASES = [
    (AskFailed(AskFailure.UNSAFE_SQL, "refused: raw_tmdb"), 400, "unsafe_sql", "refused: raw_tmdb"),
    (AskFailed(AskFailure.QUERY_FAILED, "no such column"), 400, "query_failed", "no such column"),
    (AskFailed(AskFailure.QUERY_TIMEOUT, "took too long"), 504, "query_timeout", "took too long"),
    (AskFailed(AskFailure.LLM_UNAVAILABLE, "Gemini is down"), 503, "llm_unavailable",
     "Gemini is down"),
    (AskFailed(AskFailure.UNANSWERABLE, "could not place 'x'"), 422, "unanswerable",
     "could not place 'x'"),
    (ConversationNotFound("abc"), 404, "not_found",
     "no such conversation (unknown, expired or not yours)"),
    (DatabaseUnavailable("postgresql://tmdb:secret@db/tmdb refused"), 503, "database_unavailable",
     "the warehouse is unavailable"),
    (ModelUnavailable("no model: run `tmdb train`"), 503, "model_unavailable",
     "no model: run `tmdb train`"),
    (SchemaContextUnavailable("dbt docs are missing"), 503, "docs_unavailable",
     "dbt docs are missing"),
    (InvalidMetricQuery("unknown metric 'movis'", ["movies"]), 422, "invalid_input",
     "unknown metric 'movis' (closest valid names: movies)"),
    (SemanticLayerUnavailable("run `tmdb transform`"), 503, "docs_unavailable",
     "run `tmdb transform`"),
    (QueryTimeout("took 10 s"), 504, "query_timeout", "took 10 s"),
    (QueryFailed("division by zero"), 400, "query_failed", "the query failed: division by zero"),
]  # fmt: skip


@pytest.fixture
def answer_to() -> Callable[[Exception], Response]:
    """The answer of an app with only the error handlers, whose one route raises `error`."""
    app = FastAPI()
    errors.install(app)
    raised: list[Exception] = []

    @app.get("/raise")
    def raise_it() -> None:
        raise raised[-1]

    client = TestClient(app, raise_server_exceptions=False)

    def answer(error: Exception) -> Response:
        raised.append(error)
        return client.get("/raise")

    return answer


@pytest.mark.parametrize(
    ("error", "status", "code", "message"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_each_domain_error_has_its_status_and_body(answer_to, error, status, code, message):
    response = answer_to(error)
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "message": message}}
    assert "secret" not in response.text


def test_every_domain_error_and_every_ask_failure_is_mapped() -> None:
    assert {type(case[0]) for case in CASES} == set(errors.DOMAIN_ERRORS)
    assert set(errors.ASK_FAILURE_STATUS) == set(AskFailure)
    assert {case[0].kind for case in CASES if isinstance(case[0], AskFailed)} == set(AskFailure)


def test_ask_failure_kinds_are_one_enum() -> None:
    failed = AskFailed("unsafe_sql", "refused")  # type: ignore[arg-type]
    assert failed.kind is AskFailure.UNSAFE_SQL and failed.kind == "unsafe_sql"
    with pytest.raises(ValueError, match="not_a_kind"):
        AskFailed("not_a_kind", "typo")  # type: ignore[arg-type]


def test_other_errors_stay_opaque_500s(answer_to) -> None:
    response = answer_to(KeyError("internal detail"))
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "an unexpected error occurred"}
    }


def test_the_app_registers_the_mapping() -> None:
    from api.main import create_app
    from warehouse.settings import Settings

    app = create_app(Settings())
    for domain in errors.DOMAIN_ERRORS:
        assert domain in app.exception_handlers, domain
