"""The HTTP API (README "The API"): a router per resource, errors as `{error: {code, message}}`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.body_limit import BodySizeLimit
from api.routes import ask, dbt_docs, health, metrics, models, predict, web
from api.state import build_state
from warehouse.settings import Settings, get_settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."


def create_app(settings: Settings) -> FastAPI:
    """The API over `settings`; its state (connections, model) is built when it starts serving."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.tmdb = build_state(settings)
        app.state.tmdb.warm_up()
        app.state.tmdb.follow_refreshes()
        try:
            yield
        finally:
            app.state.tmdb.close()

    app = FastAPI(
        title="TMDB movie analytics",
        version="1.0.0",
        description=f"Predictions and plain-language questions over the marts. {ATTRIBUTION}",
        lifespan=lifespan,
    )
    errors.install(app)

    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    for module in (health, predict, ask, metrics, models, dbt_docs, web):
        app.include_router(module.router)
    return app


# For `uvicorn api.main:app` (the container, several workers): settings from the environment.
app = create_app(get_settings())
