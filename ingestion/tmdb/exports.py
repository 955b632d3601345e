"""TMDB's daily id export: every movie id in one gzip'd NDJSON file, streamed, never held whole.

The export is how a backfill learns which ids exist (1.2 million of them in production); it is
also landed in the lake as it came, so a backfill can be replayed from the lake alone.
"""

from __future__ import annotations

import gzip
import heapq
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from ingestion.tmdb import settings as c
from ingestion.tmdb.client import TmdbError, TmdbUnreachable, utc_now_iso


class ExportNotFound(TmdbError):
    pass


@dataclass(frozen=True)
class ExportSelection:
    export_date: date
    ids: list[int]
    rows: int
    adult_skipped: int
    lake_file: Path


def export_url(exports_base_url: str, export_date: date) -> str:
    return f"{exports_base_url.rstrip('/')}/{c.EXPORT_FILE_TEMPLATE.format(date=export_date)}"


def _iter_lines(url: str) -> Iterator[bytes]:
    """Yield the export's lines while it downloads, decompressing on the fly."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    try:
        with httpx.stream("GET", url, timeout=c.REQUEST_TIMEOUT_SECONDS) as response:
            if response.status_code == 404:
                raise ExportNotFound(f"no export file at {url}")
            if response.status_code != 200:
                raise TmdbError(f"export download failed: HTTP {response.status_code} for {url}")
            for chunk in response.iter_bytes():
                pending += decompressor.decompress(chunk)
                *lines, pending = pending.split(b"\n")
                yield from (line for line in lines if line.strip())
    except httpx.ConnectError as exc:
        raise TmdbUnreachable(f"cannot reach the TMDB exports at {url}: {exc}") from exc
    except (httpx.HTTPError, zlib.error) as exc:
        raise TmdbError(f"export download from {url} failed: {exc}") from exc
    pending += decompressor.flush()
    if pending.strip():
        yield pending


def _with_fetched_at(line: bytes, fetched_at: str) -> bytes:
    """The raw record, unchanged, plus `_fetched_at` (spliced in, not re-serialised)."""
    line = line.rstrip()
    if not line.endswith(b"}"):
        raise TmdbError(f"malformed export line: {line[:80]!r}")
    return line[:-1] + f', "_fetched_at": "{fetched_at}"}}\n'.encode()


def download_export(
    exports_base_url: str,
    export_date: date | None,
    lake_file: Path,
    *,
    limit: int | None = None,
    min_popularity: float | None = None,
    today: date | None = None,
) -> ExportSelection:
    """Stream the export into `lake_file` (gzip NDJSON) and pick the ids to fetch.

    Adult ids are skipped. With `limit`, the most popular ids are kept (ties by id), so a small
    backfill holds the movies people look for; without it, every id in file order.
    Without a date, today's file is tried, then yesterday's (TMDB publishes around 08:00 UTC).
    """
    candidates = (
        [export_date]
        if export_date
        else [(today or datetime.now(UTC).date()) - timedelta(days=d) for d in (0, 1)]
    )
    for index, candidate in enumerate(candidates):
        try:
            return _select(
                export_url(exports_base_url, candidate), candidate, lake_file, limit, min_popularity
            )
        except ExportNotFound:
            if index == len(candidates) - 1:
                raise
    raise AssertionError("unreachable")


def _select(
    url: str, export_date: date, lake_file: Path, limit: int | None, min_popularity: float | None
) -> ExportSelection:
    fetched_at = utc_now_iso()
    rows = adult = 0
    in_order: list[int] = []
    top: list[tuple[float, int]] = []
    lake_file.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(lake_file, "wb", compresslevel=5) as out:
        for line in _iter_lines(url):
            out.write(_with_fetched_at(line, fetched_at))
            rows += 1
            try:
                row = json.loads(line)
                movie_id = int(row["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise TmdbError(f"malformed export line: {line[:80]!r}") from exc
            if row.get("adult"):
                adult += 1
                continue
            popularity = float(row.get("popularity") or 0.0)
            if min_popularity is not None and popularity < min_popularity:
                continue
            if limit is None:
                in_order.append(movie_id)
            elif len(top) < limit:
                heapq.heappush(top, (popularity, -movie_id))
            else:
                heapq.heappushpop(top, (popularity, -movie_id))
    if limit is not None:
        in_order = [-neg_id for _, neg_id in sorted(top, reverse=True)]
    return ExportSelection(export_date, in_order, rows, adult, lake_file)
