"""`tmdb_analyst`: logs in read-only, times out, and can create or write nothing anywhere."""

from __future__ import annotations

import psycopg2
import pytest

from tests.conftest import query
from warehouse.connection import analyst_url, bootstrap
from warehouse.settings import get_settings


@pytest.fixture
def analyst(database_url: str):
    bootstrap(get_settings())
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("create schema raw_tmdb; create table raw_tmdb.movies (id int)")
    conn = psycopg2.connect(analyst_url(get_settings()))
    conn.autocommit = True
    yield conn
    conn.close()


def _fails(conn, statement: str) -> str:
    with pytest.raises(psycopg2.Error) as caught, conn.cursor() as cur:
        cur.execute(statement)
    return str(caught.value)


def test_role_defaults(analyst) -> None:
    with analyst.cursor() as cur:
        cur.execute(
            "select current_user, current_setting('default_transaction_read_only'),"
            " current_setting('statement_timeout')"
        )
        assert cur.fetchone() == ("tmdb_analyst", "on", "30s")


def test_role_can_create_nothing_even_in_a_read_write_transaction(analyst) -> None:
    analyst.autocommit = False
    for statement in (
        "create table public.sneaky (id int)",
        "create temporary table sneaky (id int)",
        "create schema sneaky",
        "insert into raw_tmdb.movies values (1)",
        "select * from raw_tmdb.movies",
    ):
        with analyst.cursor() as cur:
            cur.execute("set transaction read write")
        message = _fails(analyst, statement)
        assert "permission denied" in message, (statement, message)
        analyst.rollback()


def test_bootstrap_is_idempotent(database_url: str) -> None:
    bootstrap(get_settings())
    bootstrap(get_settings())
    roles = query(database_url, "select count(*) from pg_roles where rolname = 'tmdb_analyst'")
    assert roles == [(1,)]
