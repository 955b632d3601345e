"""After a build, `tmdb_analyst` reads every mart and nothing else, and writes nothing.

What analysts and `/ask*` may see is the marts (the product contract); raw TMDB records,
staging views and intermediate tables stay private to the owner.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2.extensions import connection as Connection

from tests.conftest import query, settings
from tests.dbt.conftest import BuiltWarehouse
from warehouse.connection import analyst_url

MARTS = (
    "dim_movies",
    "dim_genres",
    "bridge_movie_genres",
    "dim_people",
    "fct_movie_cast",
    "fct_movie_crew",
    "fct_movie_metrics_daily",
    "mart_genre_year_performance",
    "ml_movie_features",
    "movie_success_predictions",
)


@pytest.fixture
def analyst(warehouse: BuiltWarehouse) -> Iterator[Connection]:
    conn = psycopg2.connect(analyst_url(settings()))
    conn.autocommit = True
    yield conn
    conn.close()


def _error(conn: Connection, statement: str, *, read_write: bool = False) -> str:
    """Run `statement` in its own transaction and return the error it must raise."""
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            if read_write:
                cur.execute("set transaction read write")
            with pytest.raises(psycopg2.Error) as caught:
                cur.execute(statement)
        return str(caught.value)
    finally:
        conn.rollback()
        conn.autocommit = True


def _relations(url: str, schema: str) -> list[str]:
    rows = query(
        url,
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema = %s order by 1",
        (schema,),
    )
    return [row[0] for row in rows]


def test_analyst_reads_every_mart(analyst: Connection, warehouse: BuiltWarehouse) -> None:
    built = _relations(warehouse.database_url, "marts")
    # The contract's marts exist, and whatever else `marts` holds is readable too.
    assert {f"marts.{mart}" for mart in MARTS} <= set(built)
    with analyst.cursor() as cur:
        cur.execute("select current_user")
        assert cur.fetchone() == ("tmdb_analyst",)
        for relation in built:
            # Every row the owner sees, not an empty or filtered view of it.
            cur.execute(f"select count(*) from {relation}")
            owner_count = query(warehouse.database_url, f"select count(*) from {relation}")[0][0]
            assert cur.fetchone()[0] == owner_count, relation
        cur.execute("select count(*) from marts.dim_movies")
        assert cur.fetchone()[0] > 0


@pytest.mark.parametrize("schema", ["raw_tmdb", "staging", "intermediate"])
def test_analyst_reads_nothing_outside_the_marts(
    analyst: Connection, warehouse: BuiltWarehouse, schema: str
) -> None:
    relations = _relations(warehouse.database_url, schema)
    expected = {
        "raw_tmdb": "raw_tmdb.movies",
        "staging": "staging.stg_tmdb__movies",
        "intermediate": "intermediate.int_movies__current",
    }[schema]
    assert expected in relations
    for relation in relations:
        message = _error(analyst, f"select count(*) from {relation}")
        assert "permission denied" in message, (relation, message)


@pytest.mark.parametrize(
    "statement",
    [
        "insert into marts.dim_genres (genre_id, genre_name) values (-1, 'Sneaky')",
        "update marts.dim_movies set title = 'x'",
        "delete from marts.fct_movie_cast",
        "truncate marts.bridge_movie_genres",
        "create table marts.sneaky (id int)",
        "create view marts.sneaky as select 1 as one",
        "create table public.sneaky (id int)",
        "create temporary table sneaky (id int)",
        "create schema sneaky",
    ],
)
def test_analyst_writes_nothing(analyst: Connection, statement: str) -> None:
    # Read-only by default...
    assert "read-only transaction" in _error(analyst, statement)
    # ...and without the privilege even when it asks for a read-write transaction.
    message = _error(analyst, statement, read_write=True)
    assert "permission denied" in message, message


def test_analyst_cannot_drop_or_alter_a_mart(analyst: Connection) -> None:
    for statement in (
        "drop table marts.dim_movies",
        "alter table marts.dim_movies add column sneaky int",
    ):
        message = _error(analyst, statement, read_write=True)
        assert "must be owner" in message or "permission denied" in message, message
