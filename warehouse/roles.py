"""The `tmdb_analyst` role: what analysts and `/ask*` connect as.

Safety does not rest on the SQL guard alone: this role logs in read-only by default, has a
statement timeout, and may create nothing anywhere (no schemas, no tables, not even temporary
ones). It is granted SELECT on `marts` by dbt's grants once the marts exist.
"""

from __future__ import annotations

from psycopg2 import sql
from psycopg2.extensions import connection as Connection

ANALYST_ROLE = "tmdb_analyst"
ANALYST_STATEMENT_TIMEOUT = "30s"


def ensure_analyst_role(conn: Connection, password: str | None = None) -> None:
    """Create or realign the role; idempotent, safe to run on every start."""
    role = sql.Identifier(ANALYST_ROLE)
    with conn.cursor() as cur:
        cur.execute("select current_database()")
        database = sql.Identifier(cur.fetchone()[0])
        cur.execute("select 1 from pg_roles where rolname = %s", (ANALYST_ROLE,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("create role {} login").format(role))
        cur.execute(
            sql.SQL("alter role {} with login nosuperuser nocreatedb nocreaterole").format(role)
        )
        if password:
            cur.execute(sql.SQL("alter role {} with password %s").format(role), (password,))
        cur.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(role))
        cur.execute(
            sql.SQL("alter role {} set statement_timeout = {}").format(
                role, sql.Literal(ANALYST_STATEMENT_TIMEOUT)
            )
        )
        # PUBLIC's defaults would let any role create temporary tables and, before PG15, tables
        # in `public`; take both away so the analyst can create nothing at all.
        cur.execute(sql.SQL("revoke create, temporary on database {} from public").format(database))
        cur.execute("revoke create on schema public from public")
        cur.execute(sql.SQL("grant connect on database {} to {}").format(database, role))
    conn.commit()
