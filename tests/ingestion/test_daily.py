"""Daily increment: changed, new and removed movies after the catalogue moves on a day."""

from __future__ import annotations

import shutil

import pytest

from ingestion.pipelines import daily_watermark, run_bulk, run_daily
from ingestion.tmdb.client import TmdbUnreachable
from tests.conftest import free_port, query, settings
from tests.ingestion.helpers import lake_deleted_ids, raw_movie_ids


def test_daily_after_one_day(fake_tmdb, database_url: str, monkeypatch) -> None:
    day0 = fake_tmdb(movies=1500, seed=11, day=0)
    run_bulk(settings(), export_date=day0.catalogue.today)
    day0.stop()

    day1 = fake_tmdb(movies=1500, seed=11, day=1)
    catalogue = day1.catalogue
    changed, added, removed = (
        catalogue.changed_ids(1),
        catalogue.added_ids(1),
        catalogue.removed_ids(1),
    )
    assert changed and added and removed
    summary = run_daily(settings(), today=catalogue.date_of(1))
    assert summary.missing == len({i for i in removed if not _adult(day0.catalogue, i)})

    ids = raw_movie_ids(database_url)
    assert set(ids.values()) == {1}
    non_adult_added = {i for i in added if not catalogue.details(i)["adult"]}
    assert non_adult_added <= set(ids)
    deleted = {row[0] for row in query(database_url, "select id from raw_tmdb.movie_deletions")}
    assert deleted == {i for i in removed if not _adult(day0.catalogue, i)}
    assert deleted == lake_deleted_ids()

    for movie_id in sorted(changed - removed)[:25]:
        source = catalogue.details(movie_id)
        if source is None or source["adult"]:
            continue
        row = query(
            database_url,
            "select vote_count, popularity, revenue from raw_tmdb.movies where id = %s",
            (movie_id,),
        )
        assert row == [(source["vote_count"], source["popularity"], source["revenue"])]

    assert daily_watermark(settings()) == catalogue.date_of(1)
    snapshots = query(database_url, "select count(*) from raw_tmdb.movie_snapshots")[0][0]
    again = run_daily(settings(), today=catalogue.date_of(1))
    assert again.fetched == summary.fetched
    assert set(raw_movie_ids(database_url).values()) == {1}
    assert query(database_url, "select count(*) from raw_tmdb.movie_snapshots")[0][0] == snapshots


def _adult(catalogue, movie_id: int) -> bool:
    details = catalogue.details(movie_id)
    return bool(details and details["adult"])


def test_daily_with_tmdb_down_keeps_the_watermark(fake_tmdb, database_url, monkeypatch) -> None:
    server = fake_tmdb(movies=200, day=2)
    catalogue = server.catalogue
    run_daily(settings(), since=catalogue.date_of(1), today=catalogue.date_of(1))
    assert daily_watermark(settings()) == catalogue.date_of(1)
    # A fresh machine (or a Lambda's empty /tmp) finds the watermark in the lake.
    shutil.rmtree(settings().pipelines_dir)
    assert daily_watermark(settings()) == catalogue.date_of(1)

    monkeypatch.setenv("TMDB_API_BASE_URL", f"http://127.0.0.1:{free_port()}/3")
    with pytest.raises(TmdbUnreachable):
        run_daily(settings(), today=catalogue.date_of(2))
    assert daily_watermark(settings()) == catalogue.date_of(1)

    monkeypatch.setenv("TMDB_API_BASE_URL", f"{server.url}/3")
    summary = run_daily(settings(), today=catalogue.date_of(2))
    assert summary.detail["window"].startswith(catalogue.date_of(1).isoformat())
    assert daily_watermark(settings()) == catalogue.date_of(2)
