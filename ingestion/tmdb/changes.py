"""The change feed: which ids changed between two dates, walked in 14-day windows, every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from ingestion.tmdb import settings as c
from ingestion.tmdb.client import TmdbClient, TmdbRequestFailed, utc_now_iso


def windows(start: date, end: date) -> Iterator[tuple[date, date]]:
    """Inclusive [start, end] cut into consecutive windows of at most 14 days."""
    if end < start:
        return
    span = timedelta(days=c.CHANGES_MAX_WINDOW_DAYS - 1)
    window_start = start
    while window_start <= end:
        window_end = min(window_start + span, end)
        yield window_start, window_end
        window_start = window_end + timedelta(days=1)


async def changed_movies(client: TmdbClient, start: date, end: date) -> list[dict[str, Any]]:
    """Every change-feed record in [start, end], as landed in the lake (with the window)."""
    records: list[dict[str, Any]] = []
    for window_start, window_end in windows(start, end):
        page, total_pages = 1, 1
        while page <= total_pages:
            body = await client.get(
                "movie/changes",
                {
                    "start_date": window_start.isoformat(),
                    "end_date": window_end.isoformat(),
                    "page": page,
                },
            )
            if body is None:
                raise TmdbRequestFailed("the change feed answered 404")
            fetched_at = utc_now_iso()
            for item in body.get("results", []):
                records.append(
                    {
                        **item,
                        "_window_start": window_start.isoformat(),
                        "_window_end": window_end.isoformat(),
                        "_fetched_at": fetched_at,
                    }
                )
            total_pages = min(int(body.get("total_pages") or 0), c.CHANGES_MAX_PAGE)
            page += 1
    return records
