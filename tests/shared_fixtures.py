"""Fixtures shared across test packages (registered in tests/conftest.py as a plugin, so a
session-scoped warehouse is built once however many packages use it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from ml.train import train
from tests.builders import built_warehouse_env, day0_catalogue
from warehouse.settings import reset_settings_cache

API_SEED = 5
API_MOVIES = 900


@dataclass(frozen=True)
class ApiWarehouse:
    database_url: str
    artifacts_dir: Path
    dbt_target: Path


@pytest.fixture(scope="session")
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
