"""The export file (streamed, adult skipped, limit/min-popularity) and the 14-day change windows."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN
from ingestion.tmdb.changes import changed_movies, windows
from ingestion.tmdb.client import TmdbClient
from ingestion.tmdb.exports import ExportNotFound, download_export


def test_export_selection(fake_tmdb, tmp_path: Path) -> None:
    server = fake_tmdb(movies=400)
    rows = server.catalogue.export_rows()
    today = server.catalogue.date_of(server.catalogue.day)
    selection = download_export(f"{server.url}/p/exports", today, tmp_path / "all.jsonl.gz")
    non_adult = [row["id"] for row in rows if not row["adult"]]
    assert selection.ids == non_adult
    assert selection.adult_skipped == len(rows) - len(non_adult) > 0
    with gzip.open(selection.lake_file, "rt") as lines:
        landed = [json.loads(line) for line in lines]
    assert [{k: v for k, v in row.items() if k != "_fetched_at"} for row in landed] == rows
    assert all("_fetched_at" in row for row in landed)

    top = download_export(f"{server.url}/p/exports", today, tmp_path / "top.jsonl.gz", limit=25)
    expected = sorted(
        (row for row in rows if not row["adult"]), key=lambda row: (-row["popularity"], row["id"])
    )[:25]
    assert top.ids == [row["id"] for row in expected]

    floor = sorted(row["popularity"] for row in rows)[len(rows) // 2]
    popular = download_export(
        f"{server.url}/p/exports", today, tmp_path / "pop.jsonl.gz", min_popularity=floor
    )
    assert popular.ids == [
        row["id"] for row in rows if not row["adult"] and row["popularity"] >= floor
    ]


def test_export_defaults_to_yesterday_before_todays_file_exists(fake_tmdb, tmp_path: Path) -> None:
    server = fake_tmdb(movies=50)
    published = server.catalogue.date_of(server.catalogue.day)
    tomorrow = published + timedelta(days=1)
    selection = download_export(
        f"{server.url}/p/exports", None, tmp_path / "e.jsonl.gz", today=tomorrow
    )
    assert selection.export_date == published
    with pytest.raises(ExportNotFound):
        download_export(f"{server.url}/p/exports", tomorrow, tmp_path / "x.jsonl.gz")


def test_windows_cover_the_range_in_at_most_14_days() -> None:
    start, end = date(2025, 1, 1), date(2025, 2, 5)
    cut = list(windows(start, end))
    assert cut[0][0] == start and cut[-1][1] == end
    assert all((b - a).days <= 13 for a, b in cut)
    assert all(cut[i][1] + timedelta(days=1) == cut[i + 1][0] for i in range(len(cut) - 1))
    assert list(windows(end, start)) == []
    assert list(windows(start, start)) == [(start, start)]


def test_change_feed_every_page_every_window(fake_tmdb) -> None:
    server = fake_tmdb(movies=3000, day=20)
    catalogue = server.catalogue
    start, end = catalogue.date_of(1), catalogue.date_of(20)

    async def run() -> list[dict]:
        async with TmdbClient(f"{server.url}/3", token=FAKE_TMDB_TOKEN) as client:
            return await changed_movies(client, start, end)

    records = asyncio.run(run())
    expected = {item["id"] for d in range(1, 21) for item in catalogue.changes_on(d)}
    assert {record["id"] for record in records} == expected
    assert len(expected) > 100  # more than one page
    assert {record["_window_start"] for record in records} == {
        start.isoformat(),
        (start + timedelta(days=14)).isoformat(),
    }
