"""Builders shared by the test packages: fresh databases, the local TMDB server's settings,
dbt artefacts kept out of the repository, and a whole warehouse loaded and built once.

dbt writes its artefacts (manifest, catalog, partial parse) and logs under the project by
default; every build here points `DBT_TARGET_PATH` and `DBT_LOG_PATH` at a temporary folder
instead, so a test run never races a developer's `dbt` in the same checkout.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN, Catalogue, FakeTmdbServer
from ingestion.pipelines import run_bulk
from ml.artifacts import LoadedModel
from ml.train import train
from tests.conftest import _ENV_TO_CLEAR
from warehouse import embedded
from warehouse.dbt_runner import transform
from warehouse.settings import Settings, reset_settings_cache


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


@contextmanager
def built_warehouse_env(
    pg_socket_url: str, folder: Path, catalogue: Catalogue
) -> Iterator[tuple[str, pytest.MonkeyPatch]]:
    """A fresh database loaded from `catalogue` (bulk, day 0) and built by `transform`, with
    the environment pointing at it while the context is open; dropped afterwards."""
    name, url = create_database(pg_socket_url)
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
            yield url, mp
    finally:
        reset_settings_cache()
        drop_database(pg_socket_url, name)


@contextmanager
def trained_warehouse_env(
    pg_socket_url: str, folder: Path, catalogue: Catalogue, version: str
) -> Iterator[tuple[str, LoadedModel]]:
    """`built_warehouse_env` plus a model trained on it under `folder / "artifacts"`."""
    with built_warehouse_env(pg_socket_url, folder, catalogue) as (url, _):
        conn = psycopg2.connect(url)
        try:
            model = train(conn, folder / "artifacts", version=version)
        finally:
            conn.close()
        reset_settings_cache()
        yield url, model
