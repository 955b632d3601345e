"""The API against a real warehouse (built from the local TMDB server, with a trained model and
generated dbt docs), a local Gemini-compatible server, and the real google-genai SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.conftest import REPO_ROOT
from tests.fake_gemini import FakeGemini
from tests.shared_fixtures import ApiWarehouse
from warehouse.settings import Settings, reset_settings_cache


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def app_env(api_warehouse: ApiWarehouse, gemini: FakeGemini) -> dict[str, str]:
    """The environment the product is configured by in these tests (the app, `tmdb mcp`)."""
    return {
        "DATABASE_URL": api_warehouse.database_url,
        "TMDB_ARTIFACTS_DIR": str(api_warehouse.artifacts_dir),
        "DBT_TARGET_PATH": str(api_warehouse.dbt_target),
        "GEMINI_API_KEY": "test-gemini-key",
        "GEMINI_BASE_URL": gemini.url,
        "GEMINI_MODEL": "gemini-test-flash",
    }


@pytest.fixture
def api(api_warehouse: ApiWarehouse, gemini: FakeGemini, monkeypatch) -> Callable[..., TestClient]:
    """A client for an app configured only through the environment, like production."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        settings_env = {**app_env(api_warehouse, gemini), **env}
        for name, value in settings_env.items():
            if value == "":
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        reset_settings_cache()
        client = TestClient(create_app(Settings()), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def sql_then_text(*sqls: str, answer: str = "Here is what the data says.", chart=None):
    """A responder: JSON requests get the scripted SQL drafts in turn, text requests an answer."""
    drafts = list(sqls)

    def respond(request: dict):
        if FakeGemini.wants_json(request):
            sql = drafts.pop(0) if len(drafts) > 1 else drafts[0]
            return {"sql": sql, "chart": chart, "reasoning": "scripted"}
        return answer

    return respond


def drafts_then_text(*drafts: dict, answer: str = "Here is what the data says."):
    """A responder: JSON requests get the scripted drafts in turn (the last one repeated), text
    requests `answer`."""
    queue = list(drafts)

    def respond(request: dict):
        if FakeGemini.wants_json(request):
            return queue.pop(0) if len(queue) > 1 else queue[0]
        return answer

    return respond


def wait_until_ready(client: TestClient, timeout: float = 60.0) -> dict:
    """`/health` once the API says `ok` (its value index is built in the background at
    start-up; until then it says `starting`)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/health").json()
        if health["status"] != "starting" or time.monotonic() > deadline:
            return health
        time.sleep(0.05)


def iso_utc(value) -> str:
    """A timestamp as `/health` writes it: UTC, ISO 8601, `Z`."""
    from datetime import UTC

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def builtin_ask(api_warehouse: ApiWarehouse, question: str) -> subprocess.CompletedProcess:
    """`tmdb ask QUESTION` in its own process on the API warehouse, with no Gemini key (the
    built-in engine)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "ASK_ENGINE")}
    env["DATABASE_URL"] = api_warehouse.database_url
    env["DBT_TARGET_PATH"] = str(api_warehouse.dbt_target)
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "ask", question],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
