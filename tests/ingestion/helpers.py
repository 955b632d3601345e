"""What the tests read back: raw rows and lake records, and the catalogue's truth to compare."""

from __future__ import annotations

from collections import Counter

from ingestion.lake import MOVIE_DELETIONS, MOVIE_DETAILS, Lake
from tests.conftest import query, settings


def raw_movie_ids(database_url: str) -> Counter:
    return Counter(row[0] for row in query(database_url, "select id from raw_tmdb.movies"))


def raw_counts(database_url: str) -> dict[str, int]:
    tables = ("movies", "movie_snapshots", "genres", "movie_deletions")
    counts = {}
    for table in tables:
        exists = query(database_url, "select to_regclass(%s) is not null", (f"raw_tmdb.{table}",))
        counts[table] = (
            query(database_url, f"select count(*) from raw_tmdb.{table}")[0][0]
            if exists[0][0]
            else 0
        )
    return counts


def lake_records(resource: str = MOVIE_DETAILS) -> list[dict]:
    lake = Lake(settings())
    return [record for url in lake.list_files(resource) for record in lake.read(url)]


def lake_deleted_ids() -> set[int]:
    return {record["id"] for record in lake_records(MOVIE_DELETIONS)}
