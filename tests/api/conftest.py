"""The API against a real warehouse (built from the local TMDB server, with a trained model and
generated dbt docs), a local Gemini-compatible server, and the real google-genai SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ml.train import train
from tests.builders import built_warehouse_env, day0_catalogue
from tests.fake_gemini import FakeGemini
from warehouse.settings import Settings, reset_settings_cache

API_SEED = 5
API_MOVIES = 900


@dataclass(frozen=True)
class ApiWarehouse:
    database_url: str
    artifacts_dir: Path
    dbt_target: Path


@pytest.fixture(scope="package")
def api_warehouse(
    pg_socket_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiWarehouse]:
    folder = tmp_path_factory.mktemp("api-warehouse")
    with built_warehouse_env(pg_socket_url, folder, day0_catalogue(API_SEED, API_MOVIES)) as (
        url,
        _,
    ):
        conn = psycopg2.connect(url)
        try:
            train(conn, folder / "artifacts", version="api-test")
        finally:
            conn.close()
        reset_settings_cache()
        yield ApiWarehouse(url, folder / "artifacts", folder / "target")


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def api(api_warehouse: ApiWarehouse, gemini: FakeGemini, monkeypatch) -> Callable[..., TestClient]:
    """A client for an app configured only through the environment, like production."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        settings_env = {
            "DATABASE_URL": api_warehouse.database_url,
            "TMDB_ARTIFACTS_DIR": str(api_warehouse.artifacts_dir),
            "DBT_TARGET_PATH": str(api_warehouse.dbt_target),
            "GEMINI_API_KEY": "test-gemini-key",
            "GEMINI_BASE_URL": gemini.url,
            "GEMINI_MODEL": "gemini-test-flash",
            **env,
        }
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
