"""The raw lake (`LAKE_URL`): the system of record, written through dlt's filesystem destination.

Layout (README "Data"): `tmdb/<resource>/dt=YYYY-MM-DD/<load_id>.<file_id>.jsonl.gz`, one API
record per line exactly as TMDB sent it plus `_fetched_at`. Files are written by us and handed to
dlt as file imports, so dlt neither drops nulls nor renames keys, yet still owns the load (atomic
packages, retries, state stored beside the data so a Lambda with an empty /tmp can resume).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.specs import AwsCredentials
from dlt.common.storages import FilesystemConfiguration, fsspec_from_config

from ingestion.dlt_runtime import without_telemetry
from warehouse.settings import Settings

LAKE_DATASET = "tmdb"
LAYOUT = "{table_name}/dt={YYYY}-{MM}-{DD}/{load_id}.{file_id}.{ext}"

MOVIE_DETAILS = "movie_details"
MOVIE_CHANGES = "movie_changes"
GENRES = "genres"
MOVIE_IDS_EXPORT = "movie_ids_export"
# Ids that answered 404 after being listed: the raw 404 body plus the id, so deletions are data.
MOVIE_DELETIONS = "movie_deletions"

PRIMARY_KEYS: dict[str, str | tuple[str, ...]] = {
    MOVIE_DETAILS: "id",
    MOVIE_CHANGES: ("id", "_window_start"),
    GENRES: "id",
    MOVIE_IDS_EXPORT: "id",
    MOVIE_DELETIONS: "id",
}


def _key_columns(resource: str) -> dict[str, dict[str, Any]]:
    """Imported files skip dlt's inference, so each table declares its key columns (fresh
    dicts every time: dlt writes the column name into them)."""
    key = PRIMARY_KEYS[resource]
    names = (key,) if isinstance(key, str) else key
    return {
        name: {"data_type": "bigint" if name == "id" else "text", "nullable": False}
        for name in names
    }


StateUpdate = Callable[[dict[str, Any]], None]


def bucket_url(settings: Settings) -> str:
    if settings.lake_is_s3 or "://" in settings.lake_url:
        return settings.lake_url.rstrip("/")
    return str(Path(settings.lake_url).resolve())


def _credentials(settings: Settings) -> AwsCredentials | None:
    if not settings.lake_is_s3:
        return None
    credentials = AwsCredentials()
    credentials.endpoint_url = settings.aws_endpoint_url
    credentials.region_name = settings.aws_region
    return credentials


def destination(settings: Settings):
    """dlt's filesystem destination for the lake, the same for a folder and for S3."""
    return dlt.destinations.filesystem(
        bucket_url=bucket_url(settings), credentials=_credentials(settings), layout=LAYOUT
    )


class Lake:
    """Read access to the lake through fsspec, for loading it into the warehouse."""

    def __init__(self, settings: Settings) -> None:
        config = FilesystemConfiguration(
            bucket_url=bucket_url(settings), credentials=_credentials(settings)
        )
        self.fs = fsspec_from_config(config)[0]
        self.root = bucket_url(settings)
        self._protocol = "s3://" if settings.lake_is_s3 else ""

    def resource_root(self, resource: str) -> str:
        return f"{self.root}/{LAKE_DATASET}/{resource}"

    def list_files(self, resource: str) -> list[str]:
        """Every file of a resource in load order (partition date, then dlt's load id)."""
        pattern = f"{self.resource_root(resource)}/dt=*/*.jsonl.gz"
        found = self.fs.glob(pattern)
        return sorted(self._url(path) for path in found)

    def _url(self, path: str) -> str:
        return path if path.startswith(self._protocol) else f"{self._protocol}{path}"

    def read(self, url: str) -> Iterator[dict[str, Any]]:
        with self.fs.open(url, "rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    @staticmethod
    def resource_of(url: str) -> str | None:
        """`.../tmdb/<resource>/dt=.../file.jsonl.gz` → `<resource>`."""
        parts = url.rstrip("/").split("/")
        if len(parts) >= 4 and parts[-4] == LAKE_DATASET and parts[-2].startswith("dt="):
            return parts[-3]
        return None


def write_jsonl_gz(path: Path, records: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=5) as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


@dataclass
class LandingBatch:
    """What one load package puts in the lake: files per resource, and state that moves with it.

    State updates run inside the resource during extraction, so dlt commits them in the same
    package as the data: a checkpoint or watermark never moves ahead of what landed.
    """

    files: dict[str, tuple[Path, int]] = field(default_factory=dict)
    state_updates: dict[str, StateUpdate] = field(default_factory=dict)

    def add(self, resource: str, path: Path, records: Iterable[dict[str, Any]]) -> int:
        count = write_jsonl_gz(path, records)
        if count:
            self.files[resource] = (path, count)
        else:
            path.unlink(missing_ok=True)
        return count

    def add_file(self, resource: str, path: Path, count: int) -> None:
        self.files[resource] = (path, count)

    def cleanup(self) -> None:
        for path, _ in self.files.values():
            path.unlink(missing_ok=True)


@dlt.source(name=LAKE_DATASET, max_table_nesting=0)
def landing(batch: LandingBatch):
    """The lake resources of one batch; each declares its key and appends (the lake is a log)."""
    names = sorted(set(batch.files) | set(batch.state_updates))
    return [
        dlt.resource(
            _import(batch, name),
            name=name,
            primary_key=PRIMARY_KEYS.get(name),
            write_disposition="append",
            columns=_key_columns(name) if name in PRIMARY_KEYS else None,
        )
        for name in names
    ]


def _import(batch: LandingBatch, name: str):
    def gen():
        update = batch.state_updates.get(name)
        if update is not None:
            update(dlt.current.resource_state())
        if name in batch.files:
            path, count = batch.files[name]
            yield dlt.mark.with_file_import(str(path), "jsonl", count)

    return gen


def lake_pipeline(settings: Settings, name: str):
    """A lake pipeline with its state current: a Lambda starts with an empty /tmp, so the
    watermark and checkpoints are restored from the lake, where dlt keeps them with the data."""
    without_telemetry()
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=destination(settings),
        dataset_name=LAKE_DATASET,
        pipelines_dir=str(settings.pipelines_dir),
    )
    if not pipeline.has_pending_data:
        pipeline.sync_destination()
    return pipeline


def resource_state(pipeline, resource: str) -> dict[str, Any]:
    """A resource's state as last committed (read-only view, outside extraction)."""
    return (
        pipeline.state.get("sources", {})
        .get(LAKE_DATASET, {})
        .get("resources", {})
        .get(resource, {})
    )
