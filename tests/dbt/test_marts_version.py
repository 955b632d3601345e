"""The build keeps the marts' data version that the API's result cache is keyed by: the counter
exists before any model runs, the analyst may read it and nothing else beside it, and every
mart, including one written in place, bumps it in its own transaction.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import query, settings
from tests.dbt.conftest import BuiltWarehouse
from warehouse.connection import analyst_url
from warehouse.dbt_runner import run_dbt

BUMP = "{{ bump_marts_version() }}"


def _version(url: str) -> int:
    [[version]] = query(url, "select version from tmdb_app.marts_version")
    return version


def test_every_mart_bumps_the_version_in_its_own_transaction(warehouse: BuiltWarehouse) -> None:
    manifest = json.loads(Path(warehouse.manifest_path).read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    ]
    assert len(marts) >= 10
    for node in marts:
        hooks = node["config"]["post-hook"]
        assert {"sql": BUMP, "transaction": True, "index": None} in [
            {**hook, "index": None} for hook in hooks
        ], node["name"]
    # One row, bumped at least once per mart built.
    assert query(warehouse.database_url, "select count(*) from tmdb_app.marts_version") == [(1,)]
    assert _version(warehouse.database_url) >= len(marts)


def test_the_analyst_reads_the_version_and_nothing_else_beside_it(
    warehouse: BuiltWarehouse,
) -> None:
    conn = psycopg2.connect(analyst_url(settings()))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select version from tmdb_app.marts_version")
            assert cur.fetchone()[0] == _version(warehouse.database_url)
            cur.execute(
                "select c.relname from pg_class as c join pg_namespace as n"
                " on c.relnamespace = n.oid where n.nspname = 'tmdb_app' and c.relkind = 'r'"
                " and has_table_privilege(c.oid, 'select')"
            )
            assert cur.fetchall() == [("marts_version",)]
            with pytest.raises(psycopg2.Error, match=r"read-only|permission denied"):
                cur.execute("update tmdb_app.marts_version set version = 0")
    finally:
        conn.close()


def test_an_incremental_mart_written_in_place_bumps_the_version(
    warehouse: BuiltWarehouse, dbt_artifacts: Path
) -> None:
    """Run again with nothing new, the incremental cast mart keeps its table (the same file:
    only the counter can tell a reader it was written) and bumps the version once."""
    url = warehouse.database_url
    filenode = "select pg_relation_filenode('marts.fct_movie_cast')"
    [[before_file]] = query(url, filenode)
    before = _version(url)
    run_dbt(settings(), ["run", "--select", "fct_movie_cast"])
    assert query(url, filenode) == [(before_file,)]
    assert _version(url) == before + 1
