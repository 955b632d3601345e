"""The real TMDB samples through the lake and into raw_tmdb: nothing lost, nothing twice."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ingestion.lake import MOVIE_DETAILS, Lake, LandingBatch, lake_pipeline, landing
from ingestion.pipelines import load_lake_into_raw, reload_lake
from tests.conftest import FIXTURES, query, settings


def _samples() -> list[dict]:
    records = json.loads((FIXTURES / "tmdb" / "movie_details_sparse_records.json").read_text())
    for offset, record in enumerate(records):
        record["_fetched_at"] = f"2025-07-01T08:00:{offset:02d}.000000+00:00"
    return records


def _land(records: list[dict], tmp_path: Path, name: str = "batch") -> None:
    s = settings()
    batch = LandingBatch()
    batch.add(MOVIE_DETAILS, tmp_path / f"{name}.jsonl.gz", records)
    lake_pipeline(s, "test_lake").run(landing(batch))


def test_lake_holds_the_api_records_unchanged(tmp_path: Path) -> None:
    records = _samples()
    _land(records, tmp_path)
    files = Lake(settings()).list_files(MOVIE_DETAILS)
    assert len(files) == 1
    relative = Path(files[0]).relative_to(tmp_path / "lake")
    assert relative.parts[:2] == ("tmdb", "movie_details")
    assert relative.parts[2].startswith("dt=") and relative.name.endswith(".jsonl.gz")
    with gzip.open(files[0], "rt") as lines:
        landed = [json.loads(line) for line in lines]
    # Nulls, empty strings, zeros and empty lists survive exactly: no dlt columns added.
    assert landed == records


def test_raw_keeps_unknowns_and_nested_fields_for_dbt(tmp_path: Path, database_url: str) -> None:
    records = _samples()
    _land(records, tmp_path)
    assert load_lake_into_raw(settings()) == 1
    rows = query(
        database_url,
        "select id, budget, release_date, genres, imdb_id, production_companies,"
        " jsonb_typeof(genres) from raw_tmdb.movies order by id",
    )
    assert [row[0] for row in rows] == sorted(record["id"] for record in records)
    by_id = {record["id"]: record for record in records}
    for movie_id, budget, release_date, genres, imdb_id, companies, genres_type in rows:
        source = by_id[movie_id]
        assert budget == source["budget"]
        assert release_date == source["release_date"]
        assert genres == source["genres"] and genres_type == "array"
        assert imdb_id == source["imdb_id"]
        assert companies == source["production_companies"]
    snapshots = query(
        database_url, "select count(*), count(distinct id) from raw_tmdb.movie_snapshots"
    )
    assert snapshots == [(len(records), len(records))]


def test_loading_a_lake_file_twice_adds_nothing(tmp_path: Path, database_url: str) -> None:
    records = _samples()
    _land(records, tmp_path)
    load_lake_into_raw(settings())
    assert load_lake_into_raw(settings()) == 0
    # Forced: the same file named explicitly (as a repeated S3 event would) still adds nothing.
    files = Lake(settings()).list_files(MOVIE_DETAILS)
    load_lake_into_raw(settings(), only=files)
    counts = query(
        database_url,
        "select (select count(*) from raw_tmdb.movies),"
        " (select count(*) from raw_tmdb.movie_snapshots)",
    )
    assert counts == [(len(records), len(records))]


def test_newest_fetch_wins_and_reload_rebuilds_from_lake(tmp_path: Path, database_url: str) -> None:
    records = _samples()
    _land(records, tmp_path, "first")
    newer = [{**records[0], "title": "Renamed", "_fetched_at": "2025-07-02T08:00:00+00:00"}]
    _land(newer, tmp_path, "second")
    load_lake_into_raw(settings())
    title = query(
        database_url, "select title from raw_tmdb.movies where id = %s", (records[0]["id"],)
    )
    assert title == [("Renamed",)]
    history = query(
        database_url,
        "select count(*) from raw_tmdb.movie_snapshots where id = %s",
        (records[0]["id"],),
    )
    assert history == [(2,)]

    query(
        database_url, "delete from raw_tmdb.movies where id = %s returning id", (records[1]["id"],)
    )
    assert reload_lake(settings()) == 2
    rebuilt = query(
        database_url,
        "select count(*), max(title) filter (where id = %s) from raw_tmdb.movies",
        (records[0]["id"],),
    )
    assert rebuilt == [(len(records), "Renamed")]
