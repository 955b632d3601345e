"""The raw tables are indexed by key: dlt's postgres destination indexes `unique` columns only,
so without these every merge's delete by id scans the whole table (a backfill's cost per film
grows with the catalogue) and dbt's incremental models scan it for new loads."""

from __future__ import annotations

from ingestion.raw_tmdb import RAW_INDEXES
from tests.builders import day0_catalogue, loaded_warehouse_env
from tests.conftest import query


def test_a_load_indexes_the_raw_tables_by_key_and_load(pg_socket_url, tmp_path) -> None:
    with loaded_warehouse_env(pg_socket_url, tmp_path, day0_catalogue(3, 40)) as (url, _):
        rows = query(
            url,
            "select t.relname, array_agg(a.attname order by k.n) from pg_index x"
            " join pg_class t on t.oid = x.indrelid join pg_namespace s on s.oid = t.relnamespace"
            " cross join lateral unnest(x.indkey) with ordinality as k(attnum, n)"
            " join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum"
            " where s.nspname = 'raw_tmdb' group by t.relname, x.indexrelid",
        )
        indexed = {(table, tuple(columns)) for table, columns in rows}
        tables = {table for table, _ in rows}
        expected = {(table, columns) for table, columns in RAW_INDEXES if table in tables}
        assert {"movies", "movie_snapshots", "genres"} <= tables
        assert expected <= indexed
        plan = query(url, "explain select * from raw_tmdb.movies where id = 1")[0][0]
        assert "Index" in plan
