"""Where the warehouse is: `DATABASE_URL` when set (RDS, any PostgreSQL), else the embedded one.

Everything that talks to PostgreSQL resolves its URL here, so the embedded server is started on
first use by whichever command needs it, and a configured server is never touched by pgserver.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2.extensions import connection as Connection

from warehouse import embedded
from warehouse.roles import ANALYST_ROLE, ensure_analyst_role
from warehouse.settings import Settings


class WarehouseUnavailable(RuntimeError):
    """PostgreSQL could not be reached; the message names the server, never its password."""


def uses_embedded(settings: Settings) -> bool:
    return settings.database_url is None


def owner_url(settings: Settings) -> str:
    """The owner connection (loading, dbt); starts the embedded server when it is the default."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded.start(settings.embedded_pgdata)


def analyst_url(settings: Settings) -> str:
    """The read-only connection; by default the `tmdb_analyst` role on the owner's server."""
    if settings.analyst_database_url is not None:
        return settings.analyst_database_url.get_secret_value()
    parts = urlsplit(owner_url(settings))
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{ANALYST_ROLE}@{host}"))


def redact(url: str) -> str:
    """A URL fit for messages: the password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str) -> Connection:
    try:
        return psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise WarehouseUnavailable(f"cannot reach PostgreSQL at {redact(url)}: {reason}") from exc


def bootstrap(settings: Settings) -> str:
    """Make the warehouse ready for loading: reachable, and the analyst role in place."""
    url = owner_url(settings)
    password = None
    if settings.analyst_database_url is not None:
        password = urlsplit(settings.analyst_database_url.get_secret_value()).password
    conn = connect(url)
    try:
        ensure_analyst_role(conn, password)
    finally:
        conn.close()
    return url
