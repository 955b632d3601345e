"""AWS Lambda entry points. Each raises on failure, so Lambda retries and then dead-letters;
none returns an error payload that would look like success to its caller.

- `bulk_chunk_handler`: a slice of the export's ids → lake (Step Functions' Distributed Map).
- `daily_handler`: the EventBridge schedule → change feed → lake.
- `lake_loader_handler`: S3 `ObjectCreated` on the lake → those objects into `raw_tmdb`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ingestion.aws_secrets import with_secrets
from ingestion.lake import Lake
from ingestion.pipelines import load_lake_into_raw, run_bulk_chunk, run_daily
from ingestion.tmdb.exports import download_export
from warehouse.settings import Settings, get_settings

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def _settings() -> Settings:
    """This execution environment's settings, with its secrets.

    Both are resolved once per process (`get_settings` and the secrets cache), so a warm
    invocation does not call Secrets Manager again. dlt's folders live under /tmp because the
    image sets `TMDB_STATE_DIR` (infra/lambda.Dockerfile).
    """
    return with_secrets(get_settings())


def bulk_chunk_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Event: `{"ids": [...]}`, or `{"export_date", "offset", "count"}` over the export's ids."""
    settings = _settings()
    ids = event.get("ids")
    if ids is None:
        if "offset" not in event or "count" not in event:
            raise ValueError("bulk chunk event needs `ids`, or `offset` and `count`")
        export_date = date.fromisoformat(event["export_date"]) if event.get("export_date") else None
        scratch = Path(settings.pipelines_dir) / "staging" / "export.jsonl.gz"
        selection = download_export(
            settings.tmdb_exports_base_url,
            export_date,
            scratch,
            min_popularity=event.get("min_popularity"),
        )
        scratch.unlink(missing_ok=True)
        offset, count = int(event["offset"]), int(event["count"])
        ids = selection.ids[offset : offset + count]
    summary = run_bulk_chunk(settings, [int(movie_id) for movie_id in ids])
    logger.info("bulk chunk: %s", "; ".join(summary.lines()))
    return {"ids": len(ids), "fetched": summary.fetched, "missing": summary.missing}


def daily_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Event: EventBridge's scheduled event; its `time` fixes "today" for the run."""
    settings = _settings()
    today = None
    if event.get("time"):
        today = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).date()
    summary = run_daily(settings, today=today, load_raw=False)
    logger.info("daily: %s", "; ".join(summary.lines()))
    return {"changed": summary.ids_selected, "fetched": summary.fetched, "missing": summary.missing}


def lake_object_urls(event: dict[str, Any]) -> list[str]:
    """`s3://bucket/key` of every lake data file in an S3 notification (keys arrive URL-encoded)."""
    urls = []
    for record in event.get("Records", []):
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = unquote_plus((s3.get("object") or {}).get("key", ""))
        url = f"s3://{bucket}/{key}"
        if bucket and key.endswith(".jsonl.gz") and Lake.resource_of(url) is not None:
            urls.append(url)
    return urls


def lake_loader_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Event: S3 `ObjectCreated` notification for lake objects."""
    settings = _settings()
    urls = lake_object_urls(event)
    if not urls:
        logger.info("no lake data files in this event")
        return {"loaded_files": 0}
    loaded = load_lake_into_raw(settings, only=urls)
    logger.info("loaded %d of %d lake files into raw_tmdb", loaded, len(urls))
    return {"loaded_files": loaded, "objects": len(urls)}
