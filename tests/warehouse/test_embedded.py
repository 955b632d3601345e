"""The embedded PostgreSQL: started by the project, shared by callers, and it keeps its data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2

from tests.conftest import REPO_ROOT
from warehouse import embedded


def _tmdb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lifecycle_reuse_and_persistence(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    url = embedded.start(pgdata)
    try:
        first = embedded.status(pgdata)
        assert first.running and first.pid
        # A second caller reuses the running server rather than starting another.
        assert embedded.start(pgdata) == url
        assert embedded.status(pgdata).pid == first.pid
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("create table kept (value text); insert into kept values ('still here')")
        assert embedded.stop(pgdata) is True
        assert not embedded.status(pgdata).running
        assert embedded.stop(pgdata) is False

        url = embedded.start(pgdata)
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("select value from kept")
            assert cur.fetchall() == [("still here",)]
        conn.close()
    finally:
        embedded.stop(pgdata)


def test_db_commands(tmp_path: Path) -> None:
    env = {**os.environ, "TMDB_STATE_DIR": str(tmp_path / "state")}
    env.pop("DATABASE_URL", None)
    try:
        assert _tmdb("db", "status", env=env).returncode == 1
        started = _tmdb("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "postgresql://postgres@/tmdb?host=" in started.stdout
        status = _tmdb("db", "status", env=env)
        assert status.returncode == 0 and "running" in status.stdout
        url = _tmdb("db", "url", env=env).stdout.strip()
        analyst = _tmdb("db", "url", "--analyst", env=env).stdout.strip()
        assert url.startswith("postgresql://postgres@") and "tmdb_analyst@" in analyst
        with psycopg2.connect(analyst) as conn, conn.cursor() as cur:
            cur.execute("select current_user")
            assert cur.fetchone() == ("tmdb_analyst",)
        assert "stopped" in _tmdb("db", "stop", env=env).stdout
        assert _tmdb("db", "status", env=env).returncode == 1
    finally:
        _tmdb("db", "stop", env=env)


def test_db_commands_step_aside_for_database_url(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TMDB_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": "postgresql://someone@db.example.invalid/tmdb",
    }
    result = _tmdb("db", "start", env=env)
    assert result.returncode == 0
    assert "DATABASE_URL is set" in result.stdout
    assert not (tmp_path / "state" / "pg").exists()
