"""Bulk backfill end to end against the local TMDB server with faults: exact rows, idempotent."""

from __future__ import annotations

from ingestion.pipelines import run_bulk
from tests.conftest import query, settings
from tests.ingestion.helpers import lake_records, raw_counts, raw_movie_ids


def test_bulk_lands_exactly_the_non_adult_catalogue(fake_tmdb, database_url: str) -> None:
    server = fake_tmdb(movies=2000, fault_rate=0.1)
    catalogue = server.catalogue
    expected = set(catalogue.movie_ids(include_adult=False))
    assert len(expected) < len(catalogue.movie_ids(include_adult=True))

    summary = run_bulk(settings(), export_date=catalogue.today)
    assert summary.fetched == len(expected) and summary.missing == 0
    assert summary.stats.retried > 0  # the faults happened and were absorbed

    ids = raw_movie_ids(database_url)
    assert set(ids) == expected and set(ids.values()) == {1}
    lake_ids = {record["id"] for record in lake_records()}
    assert lake_ids == expected

    # Raw values are the API's values; one sample checked field by field.
    sample = min(expected)
    source = catalogue.details(sample)
    row = query(
        database_url,
        "select title, budget, revenue, release_date, credits, keywords, release_dates"
        " from raw_tmdb.movies where id = %s",
        (sample,),
    )[0]
    assert row == (
        source["title"],
        source["budget"],
        source["revenue"],
        source["release_date"],
        source["credits"],
        source["keywords"],
        source["release_dates"],
    )
    genres = query(database_url, "select id, name from raw_tmdb.genres order by id")
    assert genres == sorted((g["id"], g["name"]) for g in catalogue.genres)

    before = raw_counts(database_url)
    again = run_bulk(settings(), export_date=catalogue.today)
    assert again.fetched == 0 and again.chunks_skipped == summary.chunks_landed
    assert raw_counts(database_url) == before


def test_bulk_limit_takes_the_most_popular(fake_tmdb, database_url: str) -> None:
    server = fake_tmdb(movies=300)
    rows = [row for row in server.catalogue.export_rows() if not row["adult"]]
    top = sorted(rows, key=lambda row: (-row["popularity"], row["id"]))[:40]
    run_bulk(settings(), limit=40, export_date=server.catalogue.today)
    assert set(raw_movie_ids(database_url)) == {row["id"] for row in top}
