"""Shared fixtures: a real PostgreSQL (pgserver) for the session, a fresh database per test,
a real local TMDB server per test, and settings pointed at them through the environment only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from warehouse import embedded
from warehouse.settings import Settings, reset_settings_cache

pytest_plugins = ["tests.shared_fixtures"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"

_ENV_TO_CLEAR = (
    "DATABASE_URL",
    "ANALYST_DATABASE_URL",
    "LAKE_URL",
    "AWS_ENDPOINT_URL",
    "TMDB_API_BASE_URL",
    "TMDB_EXPORTS_BASE_URL",
    "TMDB_API_TOKEN",
    "TMDB_API_KEY",
    "TMDB_RATE_LIMIT_RPS",
    "TMDB_STATE_DIR",
    "TMDB_API_TOKEN_SECRET_ARN",
    "DATABASE_URL_SECRET_ARN",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GEMINI_MODEL",
    "ASK_ENGINE",
    "API_KEYS",
    "ARTIFACTS_S3_URI",
    "DBT_PROJECT_DIR",
    "DBT_TARGET_PATH",
)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's `.env`, state folder or credentials."""
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMDB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAKE_URL", str(tmp_path / "lake"))
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture(scope="session")
def pg_socket_url() -> Iterator[str]:
    """One real PostgreSQL server for the whole session, owned by the tests."""
    pgdata = Path(tempfile.mkdtemp(prefix="tmdb-test-pg-")) / "pg"
    url = embedded.start(pgdata)
    yield url
    embedded.stop(pgdata)
    shutil.rmtree(pgdata.parent, ignore_errors=True)


@pytest.fixture
def database_url(pg_socket_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on the session server, set as DATABASE_URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_socket_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = pg_socket_url.replace(f"/{embedded.DATABASE_NAME}?", f"/{name}?")
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    yield url
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def fake_tmdb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Start a local TMDB server (in this process) and point the settings at it."""
    from ingestion.fake_tmdb import FAKE_TMDB_TOKEN, FakeTmdbServer
    from tests.builders import catalogue

    servers: list[FakeTmdbServer] = []

    def start(movies: int = 300, seed: int = 7, day: int = 0, **options) -> FakeTmdbServer:
        server = FakeTmdbServer(catalogue(seed, movies, day), **options).start()
        servers.append(server)
        monkeypatch.setenv("TMDB_API_BASE_URL", f"{server.url}/3")
        monkeypatch.setenv("TMDB_EXPORTS_BASE_URL", f"{server.url}/p/exports")
        monkeypatch.setenv("TMDB_API_TOKEN", FAKE_TMDB_TOKEN)
        monkeypatch.setenv("TMDB_RATE_LIMIT_RPS", "1000")
        reset_settings_cache()
        return server

    yield start
    for server in servers:
        server.stop()


def settings() -> Settings:
    reset_settings_cache()
    return Settings()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode: a real HTTP S3 (and Secrets Manager) endpoint on loopback."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    reset_settings_cache()
    return moto_server
