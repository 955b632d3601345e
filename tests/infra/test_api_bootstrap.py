"""infra/api_bootstrap.py: the API container's start-up against moto's S3 and Secrets Manager."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from tests.conftest import REPO_ROOT
from warehouse.settings import Settings

SCRIPT = REPO_ROOT / "infra" / "api_bootstrap.py"
spec = importlib.util.spec_from_file_location("api_bootstrap", SCRIPT)
api_bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(api_bootstrap)


@pytest.fixture
def artifacts_bucket(aws_env: str) -> str:
    bucket = f"tmdb-api-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket=bucket)
    for key, body in {
        "api/models/20250101T000000Z/model.skops": b"old",
        "api/models/20250601T000000Z/model.skops": b"new",
        "api/models/20250601T000000Z/metadata.json": b"{}",
        "api/dbt-docs/index.html": b"<html></html>",
        "api/dbt-docs/manifest.json": b"{}",
        "raw/tmdb/movie_details/dt=2025-07-01/1.a.jsonl.gz": b"not for the api",
    }.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def test_sync_downloads_models_and_docs_and_points_current(artifacts_bucket, tmp_path, aws_env):
    environ = Settings(
        ARTIFACTS_S3_URI=f"s3://{artifacts_bucket}/api",
        TMDB_ARTIFACTS_DIR=tmp_path / "artifacts",
        DBT_TARGET_PATH=tmp_path / "docs",
    )
    client = boto3.client("s3", endpoint_url=aws_env)
    result = api_bootstrap.sync(environ, client)
    assert result == {"models_files": 3, "docs_files": 2, "current": "20250601T000000Z"}
    current = tmp_path / "artifacts" / "models" / "current"
    assert current.is_symlink() and (current / "model.skops").read_bytes() == b"new"
    assert (tmp_path / "docs" / "index.html").exists()
    assert not list(tmp_path.rglob("*.jsonl.gz"))

    # An explicit CURRENT marker wins over "newest" (a rollback is one small upload).
    client.put_object(Bucket=artifacts_bucket, Key="api/models/CURRENT", Body=b"20250101T000000Z\n")
    assert api_bootstrap.sync(environ, client)["current"] == "20250101T000000Z"
    assert (current / "model.skops").read_bytes() == b"old"


def test_env_turns_an_rds_secret_into_database_url(aws_env, monkeypatch, tmp_path):
    client = boto3.client("secretsmanager", endpoint_url=aws_env)
    secret = {"username": "tmdb_owner", "password": "p@ss word'", "host": "db.internal"}
    arn = client.create_secret(Name=f"d-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(secret))
    lines = api_bootstrap.secrets_env(Settings(DATABASE_URL_SECRET_ARN=arn["ARN"]))
    # The exports survive a real shell's eval, quotes and all.
    out = subprocess.run(
        ["sh", "-c", 'eval "$1"; printf %s "$DATABASE_URL"', "sh", lines],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "postgresql://tmdb_owner:p%40ss%20word%27@db.internal:5432/postgres"


def test_workers_and_entrypoint_shape() -> None:
    assert api_bootstrap.workers() >= 1
    path = REPO_ROOT / "infra" / "api-entrypoint.sh"
    entrypoint = path.read_text()
    assert entrypoint.startswith("#!/bin/sh")
    assert "exec uvicorn api.main:app" in entrypoint
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    assert Path(path).stat().st_mode & 0o111
