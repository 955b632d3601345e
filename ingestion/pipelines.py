"""The ingestion runs: bulk backfill, daily increment, lake → raw loading, and rebuild from lake.

Each run fetches in a background thread and lands finished chunks of ~500 movies as they come:
lake first (the system of record), then the warehouse's raw schema. A chunk's checkpoint (bulk)
or the watermark (daily) lives in dlt state inside the same lake load package as the data, so a
run killed at any point resumes without losing or duplicating anything.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import Any

from ingestion import lake as lake_mod
from ingestion.lake import (
    GENRES,
    MOVIE_CHANGES,
    MOVIE_DELETIONS,
    MOVIE_DETAILS,
    MOVIE_IDS_EXPORT,
    Lake,
    LandingBatch,
    lake_pipeline,
    landing,
    resource_state,
)
from ingestion.progress import LogProgress, ProgressReporter
from ingestion.raw_tmdb import ensure_indexes, raw_pipeline, raw_tmdb
from ingestion.tmdb.changes import changed_movies
from ingestion.tmdb.client import RequestStats, TmdbAuthError, TmdbClient, utc_now_iso
from ingestion.tmdb.exports import download_export
from ingestion.tmdb.fetcher import DetailFetcher
from warehouse.connection import bootstrap
from warehouse.settings import Settings

logger = logging.getLogger(__name__)

BULK_PIPELINE = "tmdb_lake_bulk"
DAILY_PIPELINE = "tmdb_lake_daily"
DEFAULT_CHUNK_SIZE = 500
NOT_FOUND = {"status_code": 34, "status_message": "The resource you requested could not be found."}


@dataclass
class IngestSummary:
    kind: str
    ids_selected: int = 0
    fetched: int = 0
    missing: int = 0
    chunks_landed: int = 0
    chunks_skipped: int = 0
    lake_files_loaded: int = 0
    stats: RequestStats = field(default_factory=RequestStats)
    started_at: float = field(default_factory=monotonic)
    detail: dict[str, Any] = field(default_factory=dict)
    # The id export a backfill read (None for other runs): the daily run that follows starts here.
    export_date: date | None = None

    @property
    def elapsed(self) -> float:
        return monotonic() - self.started_at

    def lines(self) -> list[str]:
        rate = self.stats.requests_per_second()
        lines = [
            f"{self.kind}: {self.ids_selected:,} ids selected, {self.fetched:,} fetched, "
            f"{self.missing:,} missing (404), {self.stats.retried:,} retried "
            f"({self.stats.rate_limited:,} rate-limited)",
            f"{self.stats.requests:,} requests at {rate:,.1f} requests/s; "
            f"{self.elapsed:,.1f} s in all; "
            f"{self.chunks_landed} chunks landed"
            + (f", {self.chunks_skipped} already done" if self.chunks_skipped else "")
            + f"; {self.lake_files_loaded} lake files loaded into raw_tmdb",
        ]
        lines += [f"{key}: {value}" for key, value in self.detail.items()]
        return lines


def _token(settings: Settings) -> tuple[str | None, str | None]:
    token = settings.tmdb_api_token.get_secret_value() if settings.tmdb_api_token else None
    key = settings.tmdb_api_key.get_secret_value() if settings.tmdb_api_key else None
    return token, key


def client_factory(settings: Settings, stats: RequestStats) -> Callable[[], TmdbClient]:
    token, key = _token(settings)
    if not token and not key:
        raise TmdbAuthError("no TMDB credentials: set TMDB_API_TOKEN or TMDB_API_KEY")

    def make() -> TmdbClient:
        return TmdbClient(
            settings.tmdb_api_base_url,
            token=token,
            api_key=key,
            rate_limit_rps=settings.tmdb_rate_limit_rps,
            max_concurrency=settings.tmdb_max_concurrency,
            stats=stats,
        )

    return make


async def _preflight(make_client: Callable[[], TmdbClient]) -> list[dict[str, Any]]:
    """Check access (one line on bad credentials or no API) and fetch the genre list."""
    async with make_client() as client:
        await client.check_access()
        body = await client.get("genre/movie/list") or {}
    fetched_at = utc_now_iso()
    return [{**genre, "_fetched_at": fetched_at} for genre in body.get("genres", [])]


def _staging_file(settings: Settings, resource: str) -> Path:
    return settings.pipelines_dir / "staging" / f"{resource}-{uuid.uuid4().hex}.jsonl.gz"


def _land(pipeline, batch: LandingBatch) -> None:
    try:
        pipeline.run(landing(batch))
    finally:
        batch.cleanup()


def _finish_pending(pipeline) -> None:
    """A run killed between extract and load left a package: load it before anything new."""
    if pipeline.has_pending_data:
        logger.info("loading the package a previous run left pending in %s", pipeline.pipeline_name)
        pipeline.run()


def load_lake_into_raw(settings: Settings, *, only: list[str] | None = None) -> int:
    """Load every lake file not yet in `raw_tmdb` (or just `only`); returns files loaded."""
    pipeline = raw_pipeline(settings, bootstrap(settings))
    _finish_pending(pipeline)
    loaded = _load_pending(pipeline, Lake(settings), only)
    ensure_indexes(pipeline)
    return loaded


def _load_pending(pipeline, lake: Lake, only: list[str] | None = None) -> int:
    before = _loaded_files(pipeline)
    pipeline.run(raw_tmdb(lake, only=only))
    return len(_loaded_files(pipeline) - before)


def _loaded_files(pipeline) -> set[str]:
    resources = pipeline.state.get("sources", {}).get("raw_tmdb", {}).get("resources", {})
    return {url for state in resources.values() for url in state.get("loaded_files", [])}


def reload_lake(settings: Settings) -> int:
    """Drop `raw_tmdb` and rebuild it from every file in the lake."""
    url = bootstrap(settings)
    pipeline = raw_pipeline(settings, url)
    _finish_pending(pipeline)
    pipeline.run(raw_tmdb(Lake(settings)), refresh="drop_sources")
    ensure_indexes(pipeline)
    return len(_loaded_files(pipeline))


class _Run:
    """One ingestion run: its client, lake pipeline, warehouse (if loading) and summary."""

    def __init__(self, settings: Settings, kind: str, pipeline_name: str, load_raw: bool) -> None:
        self.settings = settings
        self.summary = IngestSummary(kind=kind)
        self.make_client = client_factory(settings, self.summary.stats)
        self.genres = asyncio.run(_preflight(self.make_client))
        self.pipeline = lake_pipeline(settings, pipeline_name)
        _finish_pending(self.pipeline)
        # The warehouse side is set up once per run, not once per chunk.
        self.raw_pipeline = None
        self.indexed = False
        if load_raw:
            self.raw_pipeline = raw_pipeline(settings, bootstrap(settings))
            _finish_pending(self.raw_pipeline)
            self.lake = Lake(settings)

    def staging_file(self, resource: str) -> Path:
        return _staging_file(self.settings, resource)

    def land(self, batch: LandingBatch) -> None:
        """Into the lake, then (when loading) every lake file the warehouse lacks."""
        _land(self.pipeline, batch)
        self.load_raw()

    def load_raw(self) -> None:
        if self.raw_pipeline is not None:
            loaded = _load_pending(self.raw_pipeline, self.lake)
            self.summary.lake_files_loaded += loaded
            if loaded and not self.indexed:  # once per run, when the tables exist
                ensure_indexes(self.raw_pipeline)
                self.indexed = True

    def fetch_and_land(
        self,
        chunks: list[tuple[int, list[int]]],
        progress: ProgressReporter,
        description: str,
        checkpoint: Callable[[int], dict[str, lake_mod.StateUpdate]] | None = None,
    ) -> None:
        """Fetch chunks in the background; land each finished one as it comes."""
        progress.start(description, sum(len(ids) for _, ids in chunks))
        try:
            fetcher = DetailFetcher(
                self.make_client,
                chunks,
                max_concurrency=self.settings.tmdb_max_concurrency,
                on_movie_done=progress.advance,
            )
            for result in fetcher:
                batch = LandingBatch(state_updates=checkpoint(result.index) if checkpoint else {})
                batch.add(MOVIE_DETAILS, self.staging_file(MOVIE_DETAILS), result.records)
                fetched_at = utc_now_iso()
                batch.add(
                    MOVIE_DELETIONS,
                    self.staging_file(MOVIE_DELETIONS),
                    ({"id": i, **NOT_FOUND, "_fetched_at": fetched_at} for i in result.missing_ids),
                )
                self.land(batch)
                self.summary.fetched += len(result.records)
                self.summary.missing += len(result.missing_ids)
                self.summary.chunks_landed += 1
        finally:
            progress.stop()


def chunked(ids: list[int], size: int) -> list[tuple[int, list[int]]]:
    return [
        (index, ids[start : start + size]) for index, start in enumerate(range(0, len(ids), size))
    ]


def run_bulk_chunk(
    settings: Settings, ids: list[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> IngestSummary:
    """One slice of a backfill, into the lake only: in AWS the lake loader takes it from there."""
    run = _Run(settings, "bulk chunk", BULK_PIPELINE, load_raw=False)
    run.summary.ids_selected = len(ids)
    run.fetch_and_land(chunked(ids, chunk_size), LogProgress(), "movie details")
    return run.summary


def _run_key(export_date: date, limit: int | None, min_popularity: float | None, chunk: int) -> str:
    return f"{export_date.isoformat()}|limit={limit}|min_popularity={min_popularity}|chunk={chunk}"


def run_bulk(
    settings: Settings,
    *,
    export_date: date | None = None,
    limit: int | None = None,
    min_popularity: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressReporter | None = None,
    load_raw: bool = True,
) -> IngestSummary:
    """Backfill: ids from the export file, details for each, resuming a killed run."""
    progress = progress or LogProgress()
    run = _Run(settings, "bulk", BULK_PIPELINE, load_raw)
    export_file = run.staging_file(MOVIE_IDS_EXPORT)
    selection = download_export(
        settings.tmdb_exports_base_url,
        export_date,
        export_file,
        limit=limit,
        min_popularity=min_popularity,
    )
    run_key = _run_key(selection.export_date, limit, min_popularity, chunk_size)
    done = set(resource_state(run.pipeline, MOVIE_DETAILS).get("bulk_runs", {}).get(run_key, []))
    landed_exports = set(resource_state(run.pipeline, MOVIE_IDS_EXPORT).get("landed", []))
    run.summary.ids_selected = len(selection.ids)
    run.summary.export_date = selection.export_date
    run.summary.detail["export"] = (
        f"{selection.export_date.isoformat()}: {selection.rows:,} rows, "
        f"{selection.adult_skipped:,} adult skipped"
    )

    batch = LandingBatch()
    batch.add(GENRES, run.staging_file(GENRES), run.genres)
    if selection.export_date.isoformat() not in landed_exports:
        batch.add_file(MOVIE_IDS_EXPORT, export_file, selection.rows)
        batch.state_updates[MOVIE_IDS_EXPORT] = _remember_export(selection.export_date)
    else:
        export_file.unlink(missing_ok=True)
    run.land(batch)

    chunks = chunked(selection.ids, chunk_size)
    todo = [(index, ids) for index, ids in chunks if index not in done]
    run.summary.chunks_skipped = len(chunks) - len(todo)
    run.fetch_and_land(
        todo,
        progress,
        "movie details",
        checkpoint=lambda index: {MOVIE_DETAILS: _mark_chunk_done(run_key, index)},
    )
    return run.summary


def _mark_chunk_done(run_key: str, index: int) -> lake_mod.StateUpdate:
    def update(state: dict[str, Any]) -> None:
        runs = state.setdefault("bulk_runs", {})
        runs[run_key] = sorted({*runs.get(run_key, []), index})

    return update


def _remember_export(export_date: date) -> lake_mod.StateUpdate:
    def update(state: dict[str, Any]) -> None:
        state["landed"] = sorted({*state.get("landed", []), export_date.isoformat()})

    return update


def _set_watermark(end: date) -> lake_mod.StateUpdate:
    def update(state: dict[str, Any]) -> None:
        state["watermark"] = end.isoformat()

    return update


def daily_watermark(settings: Settings) -> date | None:
    value = resource_state(lake_pipeline(settings, DAILY_PIPELINE), MOVIE_CHANGES).get("watermark")
    return date.fromisoformat(value) if value else None


def run_daily(
    settings: Settings,
    *,
    since: date | None = None,
    today: date | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressReporter | None = None,
    load_raw: bool = True,
) -> IngestSummary:
    """Changes since the watermark (or `since`) up to today; the watermark moves at the end."""
    progress = progress or LogProgress()
    today = today or datetime.now(UTC).date()
    run = _Run(settings, "daily", DAILY_PIPELINE, load_raw)
    watermark = resource_state(run.pipeline, MOVIE_CHANGES).get("watermark")
    start = since or (date.fromisoformat(watermark) if watermark else today - timedelta(days=1))
    run.summary.detail["window"] = f"{start.isoformat()} → {today.isoformat()}"

    async def fetch_changes() -> list[dict[str, Any]]:
        async with run.make_client() as client:
            return await changed_movies(client, start, today)

    changes = asyncio.run(fetch_changes())
    ids = sorted({int(record["id"]) for record in changes if not record.get("adult")})
    run.summary.ids_selected = len(ids)
    run.summary.detail["changes"] = f"{len(changes):,} change records, {len(ids):,} non-adult ids"
    run.load_raw()  # catch up on files a killed run left in the lake
    run.fetch_and_land(chunked(ids, chunk_size), progress, "changed movies")

    final = LandingBatch(state_updates={MOVIE_CHANGES: _set_watermark(today)})
    final.add(MOVIE_CHANGES, run.staging_file(MOVIE_CHANGES), changes)
    final.add(GENRES, run.staging_file(GENRES), run.genres)
    run.land(final)
    run.summary.detail["watermark"] = today.isoformat()
    return run.summary
