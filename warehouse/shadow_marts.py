"""The marts built beside the live ones and swapped in whole, in one transaction.

`tmdb refresh` builds the marts into `marts__next` (dbt var `marts_schema`, read by the
`generate_schema_name` macro) while staging and intermediate build in place: the API and
analysts read only `marts` (and `ml`, `tmdb_app`), so until the swap every answer comes from the
last good marts, and after it from the new ones; never from a half-built set.

The swap renames three schemas in one transaction; the marts it replaces become the next
shadow. They are kept, not dropped: incremental marts catch up from their own watermark in
`{{ this }}`, so the previous build is the base of the next (`--full-refresh` rebuilds it).
Grants are per table and move with it; the analyst's USAGE is per schema, so the swap grants it
on the new `marts` and takes it from the shadow in the same transaction.
"""

from __future__ import annotations

import json

from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from warehouse.roles import ANALYST_ROLE

MARTS = "marts"
SHADOW = "marts__next"
_PREVIOUS = "marts__prev"


def shadow_dbt_args(schema: str = SHADOW) -> list[str]:
    """The dbt arguments that send the marts to `schema` (staging and intermediate unchanged)."""
    return ["--vars", json.dumps({"marts_schema": schema})]


def _schema_exists(cur, name: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", (name,))
    return cur.fetchone() is not None


def swap_in(conn: Connection) -> bool:
    """Make the shadow the live marts in one transaction; returns whether old marts were kept
    as the next shadow (False on the first swap of a warehouse without marts)."""
    with conn.cursor() as cur:
        if not _schema_exists(cur, SHADOW):
            raise RuntimeError(f"no {SHADOW} schema to swap in: the shadow build did not run")
        had_marts = _schema_exists(cur, MARTS)
        rename = "alter schema {} rename to {}"
        if had_marts:
            cur.execute(sql.SQL(rename).format(sql.Identifier(MARTS), sql.Identifier(_PREVIOUS)))
        cur.execute(sql.SQL(rename).format(sql.Identifier(SHADOW), sql.Identifier(MARTS)))
        if had_marts:
            cur.execute(sql.SQL(rename).format(sql.Identifier(_PREVIOUS), sql.Identifier(SHADOW)))
        cur.execute("select 1 from pg_roles where rolname = %s", (ANALYST_ROLE,))
        if cur.fetchone() is not None:
            role = sql.Identifier(ANALYST_ROLE)
            cur.execute(
                sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(MARTS), role)
            )
            if had_marts:
                cur.execute(
                    sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(SHADOW), role)
                )
    conn.commit()
    return had_marts
