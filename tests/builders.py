"""Builders shared by the test packages: fresh databases, the local TMDB server's settings,
dbt artefacts kept out of the repository, and a whole warehouse loaded and built once.

dbt writes its artefacts (manifest, catalog, partial parse) and logs under the project by
default; every build here points `DBT_TARGET_PATH` and `DBT_LOG_PATH` at a temporary folder
instead, so a test run never races a developer's `dbt` in the same checkout.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
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
from warehouse.dbt_runner import manifest_hash, transform
from warehouse.settings import Settings, reset_settings_cache

#: "Today" in the test world. Every synthetic catalogue the tests build is dated from it, never
#: from the wall clock, so a test sees the same world on any calendar day.
DEFAULT_ANCHOR = date(2026, 1, 15)


def anchor_today() -> date:
    """The test world's "today": `DEFAULT_ANCHOR`, or `TMDB_TEST_TODAY` to move the whole world
    (a date, `YYYY-MM-DD`, or an offset in days from the default, `+37` / `-3`).

    Moving it proves the suite holds on other dates: `TMDB_TEST_TODAY=+400 make test`.
    """
    override = os.environ.get("TMDB_TEST_TODAY", "").strip()
    if not override:
        return DEFAULT_ANCHOR
    if override[0] in "+-":
        return DEFAULT_ANCHOR + timedelta(days=int(override))
    return date.fromisoformat(override)


def catalogue(seed: int, movies: int, day: int = 0) -> Catalogue:
    """The test world's catalogue as of `day`: day 0 is the day before the anchor, whatever
    `day` is, so catalogues of one seed at different days continue one world.

    A catalogue's content is drawn relative to its day-0 date; a day-0 and a day-1 catalogue
    dated from the same "today" would describe two different worlds.
    """
    base = anchor_today() - timedelta(days=1)
    return Catalogue(seed=seed, movies=movies, day=day, today=base + timedelta(days=day))


def day0_catalogue(seed: int, movies: int) -> Catalogue:
    """Day 0, dated the day before the anchor: `catalogue(seed, movies, day=1)` continues it."""
    return catalogue(seed, movies, day=0)


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
def loaded_warehouse_env(
    pg_socket_url: str, folder: Path, catalogue: Catalogue
) -> Iterator[tuple[str, pytest.MonkeyPatch]]:
    """A fresh database loaded from `catalogue` (bulk, day 0), not yet built, with the
    environment pointing at it while the context is open; dropped afterwards."""
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
            reset_settings_cache()
            yield url, mp
    finally:
        reset_settings_cache()
        drop_database(pg_socket_url, name)


@contextmanager
def built_warehouse_env(
    pg_socket_url: str, folder: Path, catalogue: Catalogue
) -> Iterator[tuple[str, pytest.MonkeyPatch]]:
    """`loaded_warehouse_env`, built by `transform`."""
    with loaded_warehouse_env(pg_socket_url, folder, catalogue) as (url, mp):
        transform(Settings())
        yield url, mp


@contextmanager
def trained_warehouse_env(
    pg_socket_url: str, folder: Path, catalogue: Catalogue, version: str
) -> Iterator[tuple[str, LoadedModel]]:
    """`built_warehouse_env` plus a model trained on it under `folder / "artifacts"`."""
    with built_warehouse_env(pg_socket_url, folder, catalogue) as (url, _):
        conn = psycopg2.connect(url)
        try:
            model = train(
                conn,
                folder / "artifacts",
                manifest_hash=manifest_hash(folder / "target"),
                version=version,
            )
        finally:
            conn.close()
        reset_settings_cache()
        yield url, model
