from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.ask.service import AskAnswer
from api.conversations import Turn
from api.deps import AskLimitDep, StateDep
from api.errors import ApiError
from api.schemas import (
    AskRequest,
    AskResponse,
    AskTextRequest,
    AskVisualRequest,
    Chart,
    QuestionRequest,
)

router = APIRouter(tags=["ask"])


def answer_question(
    state, body: QuestionRequest, max_rows: int, chart: bool, api_key: str = ""
) -> AskAnswer:
    """The answer to a validated question, from Gemini or the built-in engine (ASK_ENGINE),
    read against the conversation's earlier turns when it names one; the turn is then stored.
    What can go wrong (AskFailed, missing dbt docs, the warehouse down, an unknown
    conversation) becomes an HTTP error in `api.errors`."""
    conversations = state.conversations
    history = conversations.turns(body.conversation_id, api_key) if body.conversation_id else []
    answer = state.ask.ask(body.question, max_rows=max_rows, chart=chart, history=history)
    conversation_id = body.conversation_id or conversations.start(api_key)
    conversations.append(
        conversation_id,
        Turn(body.question, answer.route, answer.sql, answer.metric_query, answer.chart),
    )
    answer.conversation_id = conversation_id
    return answer


def to_response(answer: AskAnswer) -> AskResponse:
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
        engine=answer.model,
        route=answer.route,
        metric_query=answer.metric_query,
        understood=answer.understood or None,
        conversation_id=answer.conversation_id,
        suggestions=answer.suggestions,
    )


@router.post("/ask", response_model=AskResponse, response_model_exclude_none=True)
def ask(body: AskRequest, state: StateDep, api_key: AskLimitDep) -> AskResponse:
    """A question in plain language → checked SQL over the marts → rows, an answer, a chart."""
    return to_response(answer_question(state, body, body.max_rows, body.chart, api_key))


@router.post("/ask-text", response_model=AskResponse, response_model_exclude_none=True)
def ask_text(body: AskTextRequest, state: StateDep, api_key: AskLimitDep) -> AskResponse:
    """`/ask` without the chart."""
    return to_response(answer_question(state, body, body.max_rows, False, api_key))


@router.post(
    "/ask-visual",
    response_model=AskResponse,
    response_model_exclude_none=True,
    responses={200: {"content": {"image/png": {}}}},
)
def ask_visual(
    body: AskVisualRequest, request: Request, state: StateDep, api_key: AskLimitDep
) -> AskResponse | Response:
    """`/ask` with the chart; `Accept: image/png` returns the PNG itself."""
    answer = answer_question(state, body, 100, True, api_key)
    if "image/png" in request.headers.get("accept", ""):
        if answer.chart_png is None:
            raise ApiError(422, "no_chart", "the result cannot be drawn as a chart")
        return Response(answer.chart_png, media_type="image/png")
    return to_response(answer)
