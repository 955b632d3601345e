"""`tmdb mcp`: the product's tools for coding agents and assistants, over the Model Context
Protocol (stdio, the official `mcp` SDK).

An agent gets the same governed metrics, the same guard and the same read-only `tmdb_analyst`
execution as the HTTP API: each tool calls the route function that serves the matching HTTP
route, with the state the API would build from the same settings. A domain error becomes a tool
error whose text is the HTTP error's code and message (`api.errors.http_error`), so an agent
reads "invalid_input: unknown metric 'sucess_rate' (closest valid names: success_rate)" rather
than a stack trace. The process is run by its user, like the `tmdb` command, so no API key is
asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field, ValidationError

from api.errors import DOMAIN_ERRORS, ApiError, describe_validation, http_error
from api.routes import ask, predict
from api.routes import metrics as metric_routes
from api.schemas import AskResponse, AskTextRequest, PredictRequest, PredictResponse
from api.semantic.query import MetricQuery
from api.state import AppState, build_state
from warehouse.settings import Settings

T = TypeVar("T")

INSTRUCTIONS = """\
Movie analytics over The Movie Database (TMDB) catalogue, in PostgreSQL marts built by dbt.
Prefer list_metrics then query_metrics for figures: each metric is defined once in the dbt
semantic layer (MetricFlow), so "revenue" or "success rate" means the same everywhere. Use ask
for questions no metric covers, and predict for a movie's chance of commercial success.
Every query is checked by a SQL guard and runs read-only with a timeout."""


def _tool_error(exc: Exception) -> ToolError:
    error = exc if isinstance(exc, ApiError) else http_error(exc)
    return ToolError(f"{error.code}: {error.message}")


async def _call(work: Callable[[], T]) -> T:
    """Run a blocking route function off the event loop; errors become tool errors."""
    try:
        return await anyio.to_thread.run_sync(work)
    except (ApiError, *DOMAIN_ERRORS) as exc:
        raise _tool_error(exc) from exc
    except ValidationError as exc:
        raise ToolError(f"invalid_input: {describe_validation(exc.errors())}") from exc


def create_server(settings: Settings) -> FastMCP:
    """The MCP server over `settings`; its state (connections, the semantic layer, the model) is
    built when a client connects and closed when it leaves."""
    holder: dict[str, AppState] = {}

    @asynccontextmanager
    async def lifespan(_: FastMCP) -> AsyncIterator[None]:
        holder["state"] = state = build_state(settings)
        state.warm_up()
        try:
            yield
        finally:
            state.close()

    server = FastMCP("tmdb-movie-analytics", instructions=INSTRUCTIONS, lifespan=lifespan)

    def state() -> AppState:
        return holder["state"]

    @server.tool()
    async def list_metrics() -> metric_routes.MetricsCatalog:
        """Every governed metric (name, label, description, synonyms, the dimensions it groups
        and filters by) and every dimension of the semantic layer."""
        return await _call(lambda: metric_routes.list_metrics(state()))

    @server.tool()
    async def query_metrics(
        metrics: Annotated[list[str], Field(description="Metric names from list_metrics.")],
        group_by: Annotated[
            list[str] | None,
            Field(description="Dimension names; time ones with a grain (metric_time__year)."),
        ] = None,
        where: Annotated[
            list[str] | None,
            Field(description="Filters: {{ Dimension('genre__genre_name') }} = 'Drama'."),
        ] = None,
        order_by: Annotated[
            list[str] | None,
            Field(description="Metric or group-by names; a leading '-' sorts descending."),
        ] = None,
        limit: Annotated[int | None, Field(ge=1, le=metric_routes.MAX_ROWS)] = None,
    ) -> metric_routes.MetricQueryResult:
        """Query governed metrics: MetricFlow compiles the query, the guard checks the SQL, and
        it runs read-only as tmdb_analyst. Returns the SQL, the columns and the rows."""

        def work() -> metric_routes.MetricQueryResult:
            body = MetricQuery(
                metrics=metrics,
                group_by=group_by or [],
                where=where or [],
                order_by=order_by or [],
                limit=limit,
            )
            return metric_routes.query_metrics(body, state())

        return await _call(work)

    @server.tool(name="ask")
    async def ask_question(
        question: Annotated[str, Field(description="A question about the movies, in words.")],
        max_rows: Annotated[int, Field(ge=1, le=1000)] = 100,
        conversation_id: Annotated[
            str | None, Field(description="Continue a conversation: a follow-up question.")
        ] = None,
    ) -> AskResponse:
        """A question in plain language, answered like POST /ask-text: through a governed metric
        when one fits (route "semantic"), otherwise through SQL written from the dbt docs. The
        answer's conversation_id, sent back, makes the next question a follow-up; its
        suggestions are up to three next questions already checked answerable."""

        def work() -> AskResponse:
            body = AskTextRequest(
                question=question, max_rows=max_rows, conversation_id=conversation_id
            )
            return ask.to_response(ask.answer_question(state(), body, body.max_rows, False))

        return await _call(work)

    @server.tool(name="predict")
    async def predict_success(movie: PredictRequest) -> PredictResponse:
        """The probability that a movie is a commercial success, like POST /predict: give
        {movie_id} for a catalogued movie, or a pre-release description (budget_usd,
        release_date and genres at least)."""

        def work() -> PredictResponse:
            return predict.to_response(predict.predict_all(state(), [movie])[0])

        return await _call(work)

    return server


def serve_stdio(settings: Settings) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream."""
    create_server(settings).run(transport="stdio")
