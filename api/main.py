"""The HTTP API (CONTRACT §5): one router per resource, errors as `{error: {code, message}}`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.body_limit import BodySizeLimit
from api.routes import ask, dbt_docs, health, models, predict, web
from api.state import build_state
from warehouse.settings import Settings, disable_phone_home, get_settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."


def create_app(settings: Settings | None = None) -> FastAPI:
    disable_phone_home()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.tmdb = build_state(settings or get_settings())
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
    for module in (health, predict, ask, models, dbt_docs, web):
        app.include_router(module.router)
    return app


app = create_app()
