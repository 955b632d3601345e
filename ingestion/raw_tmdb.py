"""Lake → PostgreSQL `raw_tmdb`: the warehouse's raw schema, rebuilt from the lake alone if need be.

- `movies`: one row per id, merged on id; the newest fetch wins (`dedup_sort` on `_fetched_at`);
  nested fields (genres, credits, keywords, release dates, companies…) stay jsonb for dbt.
- `movie_snapshots`: the changing figures of every fetch, one row per movie and day fetched,
  so history accumulates while a re-run of the same day replaces rather than duplicates.
- `genres`, `movie_deletions` (ids that answered 404): merged on id.

Which lake files were loaded is kept in dlt state, committed with the rows they produced; so a
file is loaded once, and even a forced second load adds nothing (every table merges on its key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import dlt
from dlt.common.schema.typing import TTableSchemaColumns

from ingestion.dlt_runtime import without_telemetry
from ingestion.lake import GENRES, MOVIE_DELETIONS, MOVIE_DETAILS, Lake
from warehouse.settings import Settings

RAW_SCHEMA = "raw_tmdb"
PIPELINE_NAME = "tmdb_raw"


def _columns(**types: str) -> TTableSchemaColumns:
    """Fresh hint dicts per column (dlt writes each column's name into its own dict).

    A type ending in `!` is NOT NULL; `fetched_at` columns also pick the newest duplicate.
    """
    columns: TTableSchemaColumns = {}
    for name, data_type in types.items():
        hints: dict[str, Any] = {"data_type": data_type.rstrip("!"), "nullable": True}
        if data_type.endswith("!"):
            hints["nullable"] = False
        if name in ("_fetched_at", "fetched_at"):
            hints["dedup_sort"] = "desc"
        columns[name] = hints  # type: ignore[assignment]
    return columns


# Declared so each table has a stable shape even when a load only ever saw nulls in a column.
MOVIE_COLUMNS = _columns(
    id="bigint!",
    adult="bool",
    backdrop_path="text",
    belongs_to_collection="json",
    budget="bigint",
    genres="json",
    homepage="text",
    imdb_id="text",
    origin_country="json",
    original_language="text",
    original_title="text",
    overview="text",
    popularity="double",
    poster_path="text",
    production_companies="json",
    production_countries="json",
    release_date="text",
    revenue="bigint",
    runtime="bigint",
    spoken_languages="json",
    status="text",
    tagline="text",
    title="text",
    video="bool",
    vote_average="double",
    vote_count="bigint",
    credits="json",
    keywords="json",
    release_dates="json",
    _fetched_at="timestamp!",
    _lake_file="text",
)

SNAPSHOT_COLUMNS = _columns(
    id="bigint!",
    snapshot_date="date!",
    fetched_at="timestamp!",
    popularity="double",
    vote_average="double",
    vote_count="bigint",
    budget="bigint",
    revenue="bigint",
)

GENRE_COLUMNS = _columns(id="bigint!", name="text", _fetched_at="timestamp!", _lake_file="text")

DELETION_COLUMNS = _columns(
    id="bigint!",
    status_code="bigint",
    status_message="text",
    _fetched_at="timestamp!",
    _lake_file="text",
)

_MERGE = {"disposition": "merge", "strategy": "delete-insert"}


def dlt_credentials_url(url: str) -> str:
    """dlt insists on a host and a password; a socket-only, trust-auth server has neither.

    libpq lets `?host=` override the URL's host, so a placeholder host keeps the socket path,
    and a placeholder password is ignored by trust or peer authentication.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.hostname or "host" not in query:
        return url
    userinfo, _, _ = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    netloc = f"{user or 'postgres'}:{password or 'unused'}@localhost"
    return urlunsplit(parts._replace(netloc=netloc))


def _pending(lake: Lake, resource: str, only: list[str] | None, state: dict) -> list[str]:
    loaded = set(state.get("loaded_files", []))
    candidates = only if only is not None else lake.list_files(resource)
    return [url for url in candidates if Lake.resource_of(url) == resource and url not in loaded]


def _records(lake: Lake, files: Iterable[str], state: dict) -> Iterator[list[dict[str, Any]]]:
    # Every raw table exists from the first load on, even with no rows yet (no 404 seen so far),
    # so dbt's sources always resolve.
    yield dlt.mark.materialize_table_schema()
    loaded = state.setdefault("loaded_files", [])
    for url in files:
        page = [{**record, "_lake_file": url} for record in lake.read(url)]
        loaded.append(url)
        if page:
            yield page


@dlt.source(name=RAW_SCHEMA, max_table_nesting=0)
def raw_tmdb(lake: Lake, only: list[str] | None = None):
    """Raw tables from the lake; `only` restricts to given lake file URLs (an S3 event)."""

    @dlt.resource(name="movies", primary_key="id", write_disposition=_MERGE, columns=MOVIE_COLUMNS)
    def movies():
        state = dlt.current.resource_state()
        yield from _records(lake, _pending(lake, MOVIE_DETAILS, only, state), state)

    @dlt.transformer(
        data_from=movies,
        name="movie_snapshots",
        primary_key=("id", "snapshot_date"),
        write_disposition=_MERGE,
        columns=SNAPSHOT_COLUMNS,
    )
    def movie_snapshots(page: list[dict[str, Any]]):
        if not page:
            yield dlt.mark.materialize_table_schema()
            return
        yield [
            {
                "id": record["id"],
                "snapshot_date": record["_fetched_at"][:10],
                "fetched_at": record["_fetched_at"],
                "popularity": record.get("popularity"),
                "vote_average": record.get("vote_average"),
                "vote_count": record.get("vote_count"),
                "budget": record.get("budget"),
                "revenue": record.get("revenue"),
            }
            for record in page
        ]

    @dlt.resource(name="genres", primary_key="id", write_disposition=_MERGE, columns=GENRE_COLUMNS)
    def genres():
        state = dlt.current.resource_state()
        yield from _records(lake, _pending(lake, GENRES, only, state), state)

    @dlt.resource(
        name="movie_deletions", primary_key="id", write_disposition=_MERGE, columns=DELETION_COLUMNS
    )
    def movie_deletions():
        state = dlt.current.resource_state()
        yield from _records(lake, _pending(lake, MOVIE_DELETIONS, only, state), state)

    return movies, movie_snapshots, genres, movie_deletions


def raw_pipeline(settings: Settings, database_url: str):
    """The loader's pipeline, its state (which lake files are in) restored from PostgreSQL."""
    without_telemetry()
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.postgres(dlt_credentials_url(database_url)),
        dataset_name=RAW_SCHEMA,
        pipelines_dir=str(settings.pipelines_dir),
    )
    if not pipeline.has_pending_data:
        pipeline.sync_destination()
    return pipeline


#: Indexes dlt does not make: its postgres destination indexes `unique` columns, not primary
#: keys, so without these every merge's delete (by key) scans the whole table and a backfill's
#: cost per film grows with the catalogue; dbt's incremental models select by load id.
RAW_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("movies", ("id",)),
    ("movies", ("_dlt_load_id",)),
    ("movie_snapshots", ("id", "snapshot_date")),
    ("movie_snapshots", ("_dlt_load_id",)),
    ("movie_deletions", ("id",)),
    ("movie_deletions", ("_dlt_load_id",)),
    ("genres", ("id",)),
)


def ensure_indexes(pipeline) -> None:
    """Create whichever of `RAW_INDEXES` is missing on the raw tables that exist (one catalogue
    query when all are there; a few seconds once on a large table made before them)."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select c.relname, i.relname from pg_class c join pg_namespace n on n.oid ="
            " c.relnamespace left join pg_index x on x.indrelid = c.oid left join pg_class i"
            " on i.oid = x.indexrelid where n.nspname = %s",
            RAW_SCHEMA,
        )
        tables = {table for table, _ in rows}
        indexes = {index for _, index in rows if index}
        for table, columns in RAW_INDEXES:
            name = f"{table}__{'_'.join(c.strip('_') for c in columns)}_idx"
            if table in tables and name not in indexes:
                quoted = ", ".join(f'"{c}"' for c in columns)
                client.execute_sql(f'create index "{name}" on {RAW_SCHEMA}.{table} ({quoted})')
