"""The web page: fast route tests on an app configured through the environment only, and a real
headless Chromium driving the page against a running server (see `test_browser.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes import web
from warehouse.settings import Settings, reset_settings_cache

# Nothing listens here: the page's own routes must not need the warehouse.
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/nowhere?connect_timeout=1"


def with_web(app: FastAPI) -> FastAPI:
    """The app with the web router, whether or not `api.main` includes it already."""
    if not any(getattr(route, "path", None) == "/web/config" for route in app.routes):
        app.include_router(web.router)
    return app


@pytest.fixture
def web_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    """A client for an app configured only through the environment, like production."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        settings_env = {
            "DATABASE_URL": NO_DATABASE,
            "ANALYST_DATABASE_URL": NO_DATABASE,
            "TMDB_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "GEMINI_API_KEY": "test-gemini-key",
            **env,
        }
        for name, value in settings_env.items():
            if value == "":
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        reset_settings_cache()
        client = TestClient(with_web(create_app(Settings())), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
