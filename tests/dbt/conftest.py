"""Fixtures for the dbt tests: a local TMDB server over a chosen catalogue, dbt artefacts kept
out of the repository, and one warehouse built once and shared by the read-only tests.

dbt writes its artefacts (manifest, catalog, partial parse) and logs under the project by
default; every build here points `DBT_TARGET_PATH` and `DBT_LOG_PATH` at a temporary folder
instead, so a test run never races a developer's `dbt` in the same checkout.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN, Catalogue, FakeTmdbServer
from ingestion.pipelines import run_bulk
from tests.conftest import _ENV_TO_CLEAR
from warehouse import embedded
from warehouse.dbt_runner import transform
from warehouse.settings import Settings, reset_settings_cache

#: Seed and size of the shared warehouse (tests 2 and 3 only read it).
SHARED_SEED = 23
SHARED_MOVIES = 300


def utc_today() -> date:
    return datetime.now(UTC).date()


def day0_catalogue(seed: int, movies: int) -> Catalogue:
    """Day 0 dated yesterday, so that `Catalogue(seed, movies, day=1)` (today) continues it.

    A catalogue's content is drawn relative to its day-0 date; a day-0 and a day-1 catalogue
    built on the same wall-clock date would describe two different worlds.
    """
    return Catalogue(seed=seed, movies=movies, day=0, today=utc_today() - timedelta(days=1))


def tmdb_env(server: FakeTmdbServer) -> dict[str, str]:
    return {
        "TMDB_API_BASE_URL": f"{server.url}/3",
        "TMDB_EXPORTS_BASE_URL": f"{server.url}/p/exports",
        "TMDB_API_TOKEN": FAKE_TMDB_TOKEN,
        "TMDB_RATE_LIMIT_RPS": "1000",
    }


def dbt_env(folder: Path) -> dict[str, str]:
    return {"DBT_TARGET_PATH": str(folder / "target"), "DBT_LOG_PATH": str(folder / "logs")}


def create_database(server_url: str) -> tuple[str, str]:
    """A fresh database on the session server: (name, owner URL)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return name, server_url.replace(f"/{embedded.DATABASE_NAME}?", f"/{name}?")


def drop_database(server_url: str, name: str) -> None:
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


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
    name, url = create_database(pg_socket_url)
    catalogue = day0_catalogue(SHARED_SEED, SHARED_MOVIES)
    try:
        with FakeTmdbServer(catalogue) as server, pytest.MonkeyPatch.context() as mp:
            for variable in _ENV_TO_CLEAR:
                mp.delenv(variable, raising=False)
            env = {
                "DATABASE_URL": url,
                "TMDB_STATE_DIR": str(folder / "state"),
                "LAKE_URL": str(folder / "lake"),
                **tmdb_env(server),
                **dbt_env(folder),
            }
            for variable, value in env.items():
                mp.setenv(variable, value)
            mp.chdir(folder)
            reset_settings_cache()
            run_bulk(Settings(), export_date=catalogue.date_of(0))
            transform(Settings())
        reset_settings_cache()
        # Keep this build's artefacts whatever runs dbt next.
        kept = folder / "artifacts"
        kept.mkdir()
        manifest = Path(shutil.copy(folder / "target" / "manifest.json", kept))
        catalog = Path(shutil.copy(folder / "target" / "catalog.json", kept))
        yield BuiltWarehouse(url, catalogue, manifest, catalog)
    finally:
        reset_settings_cache()
        drop_database(pg_socket_url, name)


@pytest.fixture
def warehouse(built_warehouse: BuiltWarehouse, monkeypatch: pytest.MonkeyPatch) -> BuiltWarehouse:
    """The shared warehouse, with DATABASE_URL set again for this test (the autouse fixture of
    tests/conftest.py resets the environment before every test)."""
    monkeypatch.setenv("DATABASE_URL", built_warehouse.database_url)
    reset_settings_cache()
    return built_warehouse
