"""The parts of `tmdb refresh` that decide, without a warehouse, and its S3 publication read back
by the API container's own `infra.api_bootstrap sync` (moto's S3 in server mode)."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from cli.publish import publish
from cli.refresh import (
    RefreshSummary,
    SourceFreshness,
    freshness_failure,
    read_freshness,
    retrain_reason,
)
from ml import artifacts
from tests.conftest import REPO_ROOT
from warehouse.dbt_runner import SERVED_ARTIFACTS, install_artifacts
from warehouse.settings import Settings

NOW = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)


def test_retrain_is_due_when_forced_missing_or_old() -> None:
    assert retrain_reason(None, NOW, 7, False) == "no promoted model yet"
    assert retrain_reason(NOW - timedelta(days=3), NOW, 7, True) == "--retrain"
    assert retrain_reason(NOW - timedelta(days=3), NOW, 7, False) is None
    assert retrain_reason(NOW - timedelta(days=7), NOW, 7, False) is None
    old = retrain_reason(NOW - timedelta(days=8), NOW, 7, False)
    assert old == "the model is 8.0 days old (MODEL_MAX_AGE_DAYS=7)"


def test_freshness_warns_and_errors_per_source() -> None:
    sources = {
        "results": [
            {"unique_id": "source.tmdb_analytics.tmdb.movies", "status": "warn",
             "max_loaded_at": "2026-01-12T06:00:00", "max_loaded_at_time_ago_in_s": 259200.0},
            {"unique_id": "source.tmdb_analytics.tmdb.genres", "status": "pass",
             "max_loaded_at": "2026-01-15T05:00:00", "max_loaded_at_time_ago_in_s": 3600.0},
        ]
    }  # fmt: skip
    results = read_freshness(sources)
    assert [(r.source, r.status, r.age_hours) for r in results] == [
        ("raw_tmdb.genres", "pass", 1.0),
        ("raw_tmdb.movies", "warn", 72.0),
    ]
    assert freshness_failure(results) is None  # a warning is reported, not a stop
    stale = [*results, SourceFreshness("raw_tmdb.movie_snapshots", "error", None, 200.0)]
    assert freshness_failure(stale) == (
        "raw_tmdb.movie_snapshots is error (newest record 200.0 h old)"
    )


def test_summary_lines_and_json_say_the_same() -> None:
    summary = RefreshSummary(
        status="succeeded", refresh_id=3, films_changed=12, models_built=29, tests_passed=140,
        tests_warned=1, model_version="v1", retrained=True, scored=900,
        freshness=[SourceFreshness("raw_tmdb.movies", "pass", "2026-01-15", 1.5)],
        seconds={"ingest": 1.0, "build": 8.5},
    )  # fmt: skip
    lines = summary.lines()
    assert "films changed: 12" in lines
    assert "models built: 29; tests passed 140, warned 1, failed 0" in lines
    assert "model: v1 (retrained); 900 movies scored" in lines
    assert "  raw_tmdb.movies: pass (newest record 1.5 h old)" in lines
    data = json.loads(json.dumps(summary.to_json()))
    assert data["films_changed"] == 12 and data["seconds"]["total"] == 9.5
    assert data["freshness"][0]["status"] == "pass"


def test_artefacts_are_installed_whole_files_only(tmp_path: Path) -> None:
    built, target = tmp_path / "built", tmp_path / "target"
    built.mkdir()
    for name in SERVED_ARTIFACTS:
        (built / name).write_text(f"new {name}")
    target.mkdir()
    (target / "manifest.json").write_text("old")
    assert install_artifacts(built, target) == list(SERVED_ARTIFACTS)
    assert {p.name for p in target.iterdir()} == set(SERVED_ARTIFACTS)  # no temporary left
    assert (target / "manifest.json").read_text() == "new manifest.json"


def _api_bootstrap():
    spec = importlib.util.spec_from_file_location(
        "api_bootstrap", REPO_ROOT / "infra" / "api_bootstrap.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_writes_what_the_api_container_syncs(aws_env: str, tmp_path: Path) -> None:
    bucket = f"tmdb-refresh-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=aws_env).create_bucket(Bucket=bucket)
    target, artifacts_dir = tmp_path / "target", tmp_path / "artifacts"
    target.mkdir()
    for name in SERVED_ARTIFACTS:
        (target / name).write_text(f"docs {name}")
    version_dir = artifacts.models_dir(artifacts_dir) / "20260115T000000Z"
    (version_dir / "plots").mkdir(parents=True)
    (version_dir / artifacts.MODEL_FILE).write_bytes(b"model")
    (version_dir / artifacts.METADATA_FILE).write_text("{}")
    (version_dir / "plots" / "roc.png").write_bytes(b"png")
    artifacts.point_current_to(artifacts_dir, "20260115T000000Z")
    uri = f"s3://{bucket}/api"
    published = publish(
        Settings(ARTIFACTS_S3_URI=uri, TMDB_ARTIFACTS_DIR=artifacts_dir, DBT_TARGET_PATH=target)
    )
    assert published == {"docs_files": 4, "model_version": "20260115T000000Z"}

    # The API container's own sync, into empty folders, finds the same model and docs.
    api = tmp_path / "api"
    synced = _api_bootstrap().sync(
        Settings(
            ARTIFACTS_S3_URI=uri, TMDB_ARTIFACTS_DIR=api / "artifacts", DBT_TARGET_PATH=api / "t"
        ),
        boto3.client("s3", endpoint_url=aws_env),
    )
    assert synced["current"] == "20260115T000000Z" and synced["docs_files"] == 4
    current = artifacts.models_dir(api / "artifacts") / artifacts.CURRENT
    assert (current / artifacts.MODEL_FILE).read_bytes() == b"model"
    assert (current / "plots" / "roc.png").read_bytes() == b"png"
    assert (api / "t" / "semantic_manifest.json").read_text() == "docs semantic_manifest.json"
