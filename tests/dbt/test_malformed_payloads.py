"""Malformed TMDB payloads are loaded raw, flagged in staging, and never crash a run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ingestion.lake import MOVIE_DETAILS, LandingBatch, lake_pipeline, landing
from ingestion.pipelines import load_lake_into_raw
from tests.conftest import query, settings
from warehouse.dbt_runner import transform

GOOD = {
    "id": 9_000_001,
    "adult": False,
    "title": "Well Formed",
    "budget": 5_000_000,
    "revenue": 20_000_000,
    "release_date": "2020-02-14",
    "genres": [{"id": 18, "name": "Drama"}],
    "credits": {"cast": [], "crew": []},
    "vote_average": 7.0,
    "vote_count": 10,
    "_fetched_at": "2025-07-01T08:00:00+00:00",
}
BROKEN = {
    "id": 9_000_002,
    "adult": False,
    "title": "Broken Record",
    "budget": "about five million",
    "revenue": None,
    "release_date": "2024-13-45",
    "genres": "Drama",
    "credits": {"cast": "nobody", "crew": [{"name": "no id"}]},
    "release_dates": {"results": [{"iso_3166_1": "US", "release_dates": "soon"}]},
    "belongs_to_collection": "a saga",
    "vote_average": "high",
    "vote_count": 3,
    "_fetched_at": "2025-07-01T08:00:01+00:00",
}


def test_malformed_records_do_not_break_loading_or_dbt(
    database_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    batch = LandingBatch()
    batch.add(MOVIE_DETAILS, tmp_path / "details.jsonl.gz", [GOOD, BROKEN])
    lake_pipeline(settings(), "test_malformed").run(landing(batch))
    load_lake_into_raw(settings())
    raw = query(database_url, "select id, title from raw_tmdb.movies order by id")
    assert raw == [(9_000_001, "Well Formed"), (9_000_002, "Broken Record")]

    transform(settings())  # builds and runs every test without failing

    staged = query(
        database_url,
        "select movie_id, budget_usd, release_date, has_malformed_release_date, vote_average"
        " from staging.stg_tmdb__movies order by movie_id",
    )
    assert staged[0][1:4] == (5_000_000, date(2020, 2, 14), False)
    assert staged[1][1:4] == (None, None, True)  # flagged, treated as unknown
    marts = query(database_url, "select movie_id, title from marts.dim_movies order by movie_id")
    assert marts == [(9_000_001, "Well Formed"), (9_000_002, "Broken Record")]
    genres_of_broken = query(
        database_url, "select count(*) from marts.bridge_movie_genres where movie_id = 9000002"
    )
    assert genres_of_broken == [(0,)]
