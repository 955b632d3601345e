"""Fixtures for the dbt tests: a local TMDB server over a chosen catalogue, dbt artefacts kept
out of the repository, and one warehouse built once and shared by the read-only tests.

dbt writes its artefacts (manifest, catalog, partial parse) and logs under the project by
default; every build here points `DBT_TARGET_PATH` and `DBT_LOG_PATH` at a temporary folder
instead, so a test run never races a developer's `dbt` in the same checkout.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion.fake_tmdb import Catalogue, FakeTmdbServer
from tests.builders import built_warehouse_env, day0_catalogue, dbt_env, tmdb_env
from warehouse.settings import reset_settings_cache

#: Seed and size of the shared warehouse (tests 2 and 3 only read it).
SHARED_SEED = 23
SHARED_MOVIES = 300


@pytest.fixture
def dbt_artifacts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """dbt's target and log folders for this test; returns the target folder."""
    for name, value in dbt_env(tmp_path / "dbt").items():
        monkeypatch.setenv(name, value)
    return tmp_path / "dbt" / "target"


@pytest.fixture
def tmdb_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Catalogue], FakeTmdbServer]]:
    """Start a local TMDB server over a given catalogue and point the settings at it."""
    servers: list[FakeTmdbServer] = []

    def start(catalogue: Catalogue) -> FakeTmdbServer:
        server = FakeTmdbServer(catalogue).start()
        servers.append(server)
        for name, value in tmdb_env(server).items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        return server

    yield start
    for server in servers:
        server.stop()


@dataclass(frozen=True)
class BuiltWarehouse:
    """A warehouse loaded from `catalogue` (bulk, day 0) and built by `transform`."""

    database_url: str
    catalogue: Catalogue
    manifest_path: Path
    catalog_path: Path


@pytest.fixture(scope="package")
def built_warehouse(
    pg_socket_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltWarehouse]:
    """Bulk-load a small catalogue and run `transform` once for every test that only reads."""
    folder = tmp_path_factory.mktemp("built-warehouse")
    catalogue = day0_catalogue(SHARED_SEED, SHARED_MOVIES)
    with built_warehouse_env(pg_socket_url, folder, catalogue) as (url, _):
        # Keep this build's artefacts whatever runs dbt next.
        kept = folder / "artifacts"
        kept.mkdir()
        manifest = Path(shutil.copy(folder / "target" / "manifest.json", kept))
        catalog = Path(shutil.copy(folder / "target" / "catalog.json", kept))
        reset_settings_cache()
        yield BuiltWarehouse(url, catalogue, manifest, catalog)


@pytest.fixture
def warehouse(built_warehouse: BuiltWarehouse, monkeypatch: pytest.MonkeyPatch) -> BuiltWarehouse:
    """The shared warehouse, with DATABASE_URL set again for this test (the autouse fixture of
    tests/conftest.py resets the environment before every test)."""
    monkeypatch.setenv("DATABASE_URL", built_warehouse.database_url)
    reset_settings_cache()
    return built_warehouse
