"""Fixtures shared across test packages (registered in tests/conftest.py as a plugin, so a
session-scoped warehouse is built once however many packages use it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders import day0_catalogue, trained_warehouse_env

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
    catalogue = day0_catalogue(API_SEED, API_MOVIES)
    with trained_warehouse_env(pg_socket_url, folder, catalogue, "api-test") as (url, _):
        yield ApiWarehouse(url, folder / "artifacts", folder / "target")
