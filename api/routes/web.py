"""The product's web page: one static HTML page, its stylesheet and script, and what it needs
to know about the deployment (`/web/config`). No build step, no external resources: the chart
libraries (vega, vega-lite, vega-embed) are vendored under `web/vendor/` (`make web-vendor`)
and served from here, so the page works offline.

The page has two views: questions (`/`) and Explore (`/explore?metrics=…&group_by=…&where=…
&order_by=…&limit=…&chart=…`, the same page reading its state from the query string). What
they need beyond the public API is read-only and bounded: the "Try" questions checked on the
loaded data (`/web/suggestions`), values as someone types them (`/web/values`) and the Vega-Lite
spec of an Explore result (`/web/vega-lite`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api import vega_lite
from api.deps import StateDep
from api.errors import ApiError, invalid_input
from api.grounding.values import DIMENSION_OF_KIND
from api.semantic.query import MetricQuery
from warehouse.settings import Settings

router = APIRouter(tags=["web"], include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
TMDB_API_HOST = "api.themoviedb.org"

# The page's assets: nothing else under WEB_DIR is served.
ASSETS = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
# The vendored chart libraries and their licences (`make web-vendor` writes them).
VENDOR_DIR = WEB_DIR / "vendor"
VENDOR = {
    "vega.min.js": "text/javascript; charset=utf-8",
    "vega-lite.min.js": "text/javascript; charset=utf-8",
    "vega-embed.min.js": "text/javascript; charset=utf-8",
    "LICENSES.txt": "text/plain; charset=utf-8",
}
VENDOR_CACHE = {"Cache-Control": "public, max-age=86400"}
KIND_OF_DIMENSION = {dimension: kind for kind, dimension in DIMENSION_OF_KIND.items()}
MAX_VALUES = 20
# Everything the page loads comes from this server; chart images are data: URLs.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
NO_CACHE = {"Cache-Control": "no-cache"}


class WebConfig(BaseModel):
    synthetic_data: bool
    llm: Literal["gemini", "builtin", "none"]


def web_config(settings: Settings) -> WebConfig:
    """Who answers questions (ASK_ENGINE with or without a key), for the page to say so."""
    host = urlsplit(settings.tmdb_api_base_url).hostname or ""
    has_key = settings.gemini_api_key is not None
    if settings.ask_engine == "builtin" or (settings.ask_engine == "auto" and not has_key):
        llm = "builtin"
    else:
        llm = "gemini" if has_key else "none"
    return WebConfig(synthetic_data=host.lower() != TMDB_API_HOST, llm=llm)


@router.get("/")
def index() -> FileResponse:
    return _page()


@router.get("/explore")
def explore() -> FileResponse:
    """The Explore view: the same page, its state in the query string (CONTRACT §5)."""
    return _page()


def _page() -> FileResponse:
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**NO_CACHE, "Content-Security-Policy": CSP},
    )


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise ApiError(404, "not_found", f"no such file: /static/{name}")
    return FileResponse(WEB_DIR / name, media_type=ASSETS[name], headers=NO_CACHE)


@router.get("/static/vendor/{name}")
def vendor_asset(name: str) -> FileResponse:
    if name not in VENDOR:
        raise ApiError(404, "not_found", f"no such file: /static/vendor/{name}")
    return FileResponse(VENDOR_DIR / name, media_type=VENDOR[name], headers=VENDOR_CACHE)


class Suggestions(BaseModel):
    suggestions: list[str]


@router.get("/web/suggestions", response_model=Suggestions)
def suggestions(state: StateDep) -> Suggestions:
    """The home page's "Try" questions: the saved questions and a few headline ones, each
    checked answerable by the built-in engine on the loaded data (`api.ask.suggestions`)."""
    suggester = state.ask.suggester
    return Suggestions(suggestions=suggester.starters() if suggester else [])


class Values(BaseModel):
    dimension: str
    values: list[str]


@router.get("/web/values", response_model=Values)
def values(
    state: StateDep,
    dimension: Annotated[str, Query(max_length=100)],
    prefix: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_VALUES)] = 10,
) -> Values:
    """Values of a dimension as someone types them, from the grounding index (spelt as in
    the data, the most used first). Dimensions outside the index have none."""
    kind = KIND_OF_DIMENSION.get(dimension)
    grounder = state.ask.grounder
    if kind is None or grounder is None:
        return Values(dimension=dimension, values=[])
    return Values(dimension=dimension, values=grounder.get().complete(prefix, kind, limit))


class ChartRequest(BaseModel):
    query: MetricQuery
    chart: str = Field(pattern="^(bar|line|scatter)$")
    columns: list[str] = Field(min_length=1, max_length=30)
    title: str | None = Field(default=None, max_length=200)


class ChartSpecOut(BaseModel):
    vega_lite: dict[str, Any] | None = Field(
        description="The validated spec, its data named `rows` for the page to fill; null"
        " when the result cannot be drawn as that chart."
    )


@router.post("/web/vega-lite", response_model=ChartSpecOut)
def chart_spec(body: ChartRequest, state: StateDep) -> ChartSpecOut:
    """The Vega-Lite spec of a metric query's result (Explore), typed by the semantic layer."""
    catalog = state.semantic.catalog()
    unknown = [c for c in body.columns if c not in catalog.metrics and c not in _groupable(body)]
    if unknown:
        raise invalid_input(f"columns: not of this query: {', '.join(unknown)}")
    columns = vega_lite.columns_of_query(body.query, catalog, body.columns)
    return ChartSpecOut(vega_lite=vega_lite.build(body.chart, columns, title=body.title))


def _groupable(body: ChartRequest) -> set[str]:
    return {*body.query.group_by, "movie__title", "movie__release_year"}


@router.get("/web/config", response_model=WebConfig)
def config(state: StateDep) -> WebConfig:
    """Whether the data is synthetic and which model answers questions, for the page."""
    return web_config(state.settings)
