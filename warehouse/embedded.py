"""The embedded PostgreSQL: a real server from the `pgserver` wheel, kept under `.tmdb/pg`.

A newcomer gets a warehouse without installing a database. The server outlives the process that
started it (pgserver's `cleanup_mode=None`) so that the CLI, dbt, the API and the tests all share
one server; any caller that finds it running reuses it, and its data survives restarts.
It listens on a Unix socket inside its data folder only: nothing on the network can reach it.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

logger = logging.getLogger(__name__)

DATABASE_NAME = "tmdb"
OWNER_USER = "postgres"


class EmbeddedWarehouseError(RuntimeError):
    """The embedded server could not be started or stopped; the message says why."""


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None


def _pgserver():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); it is harmless here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.utils import PostmasterInfo
    return pgserver, PostmasterInfo


def status(pgdata: Path) -> EmbeddedStatus:
    pgdata = pgdata.resolve()
    _, postmaster_info = _pgserver()
    try:
        info = postmaster_info.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):  # postmaster.pid being written right now
        info = None
    if info is None or not info.is_running():
        return EmbeddedStatus(running=False, pgdata=pgdata)
    return EmbeddedStatus(running=True, pgdata=pgdata, pid=info.pid, socket_dir=info.socket_dir)


def url_for(socket_dir: Path, user: str = OWNER_USER, database: str = DATABASE_NAME) -> str:
    return f"postgresql://{user}@/{database}?host={socket_dir}"


def start(pgdata: Path) -> str:
    """Start the server if it is not running (or reuse it) and return the owner URL."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgserver, _ = _pgserver()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode=None)
            # pgserver caches one handle per folder per process; after a stop, start it again.
            if not status(pgdata).running:
                server.ensure_postgres_running()
        socket_dir = server.get_postmaster_info().socket_dir
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        log = pgdata / "log"
        hint = f"; see {log}" if log.exists() else ""
        raise EmbeddedWarehouseError(
            f"could not start the embedded PostgreSQL: {exc}{hint}"
        ) from exc
    if socket_dir is None:
        raise EmbeddedWarehouseError("the embedded PostgreSQL reported no socket directory")
    _ensure_database(socket_dir)
    return url_for(socket_dir)


def stop(pgdata: Path) -> bool:
    """Stop the server; returns False when it was not running."""
    pgdata = pgdata.resolve()
    if not status(pgdata).running:
        return False
    from pgserver._commands import pg_ctl

    user = "pgserver" if platform.system() != "Windows" and os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.SubprocessError as exc:
        raise EmbeddedWarehouseError(f"could not stop the embedded PostgreSQL: {exc}") from exc
    return True


def _ensure_database(socket_dir: Path) -> None:
    conn = psycopg2.connect(url_for(socket_dir, database="postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,))
            if cur.fetchone() is None:
                logger.info("creating database %s", DATABASE_NAME)
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE_NAME)))
    finally:
        conn.close()
