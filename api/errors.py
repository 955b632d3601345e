"""Every error the API returns: `{"error": {"code", "message"}}` with the right status, and
never a stack trace, a connection string or a key (README "The API").

Routes raise domain errors (the warehouse is down, no model, an unanswerable question…) and
this module alone decides what each one means in HTTP: `http_error` is the mapping,
`install` registers it, so no route repeats it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.ask.service import AskFailed, AskFailure
from api.conversations import ConversationNotFound
from api.semantic.engine import SemanticLayerUnavailable
from api.semantic.query import InvalidMetricQuery
from api.text_to_sql.executor import DatabaseUnavailable, QueryFailed, QueryTimeout
from api.text_to_sql.schema_context import SchemaContextUnavailable
from ml.artifacts import ModelUnavailable

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details or {}  # more fields of the error object (a refusal's reading)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid X-API-Key header is required")


def invalid_input(message: str) -> ApiError:
    return ApiError(422, "invalid_input", message)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {**(details or {}), "code": code, "message": message}}


# The status of each reason a question goes unanswered; its code is the kind itself.
ASK_FAILURE_STATUS: dict[AskFailure, int] = {
    AskFailure.UNSAFE_SQL: 400,
    AskFailure.QUERY_FAILED: 400,
    AskFailure.QUERY_TIMEOUT: 504,
    AskFailure.LLM_UNAVAILABLE: 503,
    AskFailure.UNANSWERABLE: 422,
}

# The domain errors a route may let through; `http_error` answers each.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    AskFailed,
    DatabaseUnavailable,
    ModelUnavailable,
    SchemaContextUnavailable,
    InvalidMetricQuery,
    SemanticLayerUnavailable,
    QueryFailed,
    QueryTimeout,
    ConversationNotFound,
)


def http_error(exc: Exception) -> ApiError:
    """The HTTP answer to a domain error (one of `DOMAIN_ERRORS`)."""
    if isinstance(exc, AskFailed):
        # A refusal says what was understood and what to ask instead (`understood`,
        # `metric_query`, `suggestions`) beside its message.
        return ApiError(ASK_FAILURE_STATUS[exc.kind], exc.kind.value, str(exc), details=exc.details)
    if isinstance(exc, DatabaseUnavailable):
        # Its message may hold the connection string: never shown.
        return ApiError(503, "database_unavailable", "the warehouse is unavailable")
    if isinstance(exc, ModelUnavailable):
        return ApiError(503, "model_unavailable", str(exc))
    if isinstance(exc, SchemaContextUnavailable):
        return ApiError(503, "docs_unavailable", str(exc))
    if isinstance(exc, InvalidMetricQuery):
        hint = f" (closest valid names: {', '.join(exc.suggestions)})" if exc.suggestions else ""
        return invalid_input(f"{exc}{hint}")
    if isinstance(exc, SemanticLayerUnavailable):
        return ApiError(503, "docs_unavailable", str(exc))
    if isinstance(exc, QueryTimeout):
        return ApiError(504, "query_timeout", str(exc))
    if isinstance(exc, ConversationNotFound):
        return ApiError(404, "not_found", "no such conversation (unknown, expired or not yours)")
    if isinstance(exc, QueryFailed):
        return ApiError(400, "query_failed", f"the query failed: {exc}")
    raise TypeError(f"not a domain error: {type(exc).__name__}")


def describe_validation(errors: list[dict]) -> str:
    """Pydantic's errors in one line: `field: message; …` (the first five)."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", []) if p != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _respond(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.code, error.message, error.details), error.status, headers=error.headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _respond(exc)

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        return _respond(http_error(exc))

    for domain in DOMAIN_ERRORS:
        app.add_exception_handler(domain, domain_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_input", describe_validation(exc.errors())), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), 500)
