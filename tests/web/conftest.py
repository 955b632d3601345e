"""The web page: fast route tests on an app configured through the environment only, and a real
headless Chromium driving the page against a running server (see `test_browser.py`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes import web
from tests.conftest import free_port
from tests.web.chromium import Chromium
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


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """The app (with the web router) configured by `env`, served by uvicorn in a thread on
    loopback; yields its URL."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        reset_settings_cache()
        app = with_web(create_app(Settings()))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, name="web-uvicorn", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start within 30 s")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            reset_settings_cache()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """One headless Chromium per test module."""
    chromium = Chromium.launch()  # fails (does not skip) when Chromium is missing
    try:
        yield chromium
    finally:
        chromium.close()
