from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import AskLimitDep, StateDep
from api.errors import ApiError
from api.schemas import AskRequest, AskResponse, AskTextRequest, AskVisualRequest, Chart
from api.text_to_sql.executor import DatabaseUnavailable
from api.text_to_sql.schema_context import SchemaContextUnavailable
from api.text_to_sql.service import AskAnswer, AskFailed

router = APIRouter(tags=["ask"])

_FAILURES = {
    "unsafe_sql": (400, "unsafe_sql"),
    "query_failed": (400, "query_failed"),
    "query_timeout": (504, "query_timeout"),
    "llm_unavailable": (503, "llm_unavailable"),
}


def _answer(state, question: str, max_rows: int, chart: bool) -> AskAnswer:
    if state.settings.gemini_api_key is None:
        raise ApiError(503, "llm_unavailable", "GEMINI_API_KEY is not set: /ask is unavailable")
    try:
        return state.ask.ask(question, max_rows=max_rows, chart=chart)
    except AskFailed as exc:
        status, code = _FAILURES[exc.kind]
        raise ApiError(status, code, str(exc)) from exc
    except SchemaContextUnavailable as exc:
        raise ApiError(503, "docs_unavailable", str(exc)) from exc
    except DatabaseUnavailable as exc:
        raise ApiError(503, "database_unavailable", "the warehouse is unavailable") from exc


def _response(answer: AskAnswer) -> AskResponse:
    chart = None
    if answer.chart is not None and answer.chart_png is not None:
        chart = Chart(
            **answer.chart, image_png_base64=base64.b64encode(answer.chart_png).decode("ascii")
        )
    return AskResponse(
        question=answer.question,
        answer=answer.answer,
        sql=answer.sql,
        columns=answer.columns,
        rows=answer.rows,
        row_count=len(answer.rows),
        truncated=answer.truncated,
        chart=chart,
        attempts=answer.attempts,
        model=answer.model,
    )


@router.post("/ask", response_model=AskResponse, response_model_exclude_none=True)
def ask(body: AskRequest, state: StateDep, _: AskLimitDep) -> AskResponse:
    """A question in plain language → checked SQL over the marts → rows, an answer, a chart."""
    return _response(_answer(state, body.question, body.max_rows, body.chart))


@router.post("/ask-text", response_model=AskResponse, response_model_exclude_none=True)
def ask_text(body: AskTextRequest, state: StateDep, _: AskLimitDep) -> AskResponse:
    """`/ask` without the chart."""
    return _response(_answer(state, body.question, body.max_rows, False))


@router.post(
    "/ask-visual",
    response_model=AskResponse,
    response_model_exclude_none=True,
    responses={200: {"content": {"image/png": {}}}},
)
def ask_visual(
    body: AskVisualRequest, request: Request, state: StateDep, _: AskLimitDep
) -> AskResponse | Response:
    """`/ask` with the chart; `Accept: image/png` returns the PNG itself."""
    answer = _answer(state, body.question, 100, True)
    if "image/png" in request.headers.get("accept", ""):
        if answer.chart_png is None:
            raise ApiError(422, "no_chart", "the result cannot be drawn as a chart")
        return Response(answer.chart_png, media_type="image/png")
    return _response(answer)
