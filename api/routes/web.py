"""The product's web page: one static HTML page, its stylesheet and script, and what it needs
to know about the deployment (`/web/config`). No build step, no external resources."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import StateDep
from api.errors import ApiError
from warehouse.settings import Settings

router = APIRouter(tags=["web"], include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
TMDB_API_HOST = "api.themoviedb.org"

# The page's assets: nothing else under WEB_DIR is served.
ASSETS = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
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


@router.get("/web/config", response_model=WebConfig)
def config(state: StateDep) -> WebConfig:
    """Whether the data is synthetic and which model answers questions, for the page."""
    return web_config(state.settings)
