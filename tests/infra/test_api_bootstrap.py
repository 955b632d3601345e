"""infra/api_bootstrap.py: the API container's start-up against moto's S3 and Secrets Manager."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
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
    # The server's tasks keep syncing in the background, every ARTIFACTS_SYNC_SECONDS.
    assert 'api_bootstrap.py" sync --every "${ARTIFACTS_SYNC_SECONDS:-300}" &' in entrypoint
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    assert Path(path).stat().st_mode & 0o111


def _settings(bucket: str, root: Path) -> Settings:
    return Settings(
        ARTIFACTS_S3_URI=f"s3://{bucket}/api",
        TMDB_ARTIFACTS_DIR=root / "artifacts",
        DBT_TARGET_PATH=root / "docs",
    )


def test_entrypoint_syncs_then_runs_the_given_command(artifacts_bucket, tmp_path, aws_env):
    """What the daily workflow's refresh task does: the image's entrypoint with a command syncs
    the current model first, then runs the command instead of the server."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "ARTIFACTS_S3_URI": f"s3://{artifacts_bucket}/api",
        "TMDB_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "DBT_TARGET_PATH": str(tmp_path / "docs"),
    }
    script = 'cat "$TMDB_ARTIFACTS_DIR/models/current/model.skops"; echo " $*"'
    result = subprocess.run(
        ["sh", str(REPO_ROOT / "infra" / "api-entrypoint.sh"), "sh", "-c", script, "x", "a b"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "new a b\n"


BIG = 4 * 1024 * 1024


def test_a_reader_never_sees_a_half_written_file(artifacts_bucket, tmp_path, aws_env):
    """Files replaced while a reader reads them in a loop: every read is the old or the new
    content whole, and the sync leaves no staging file behind."""
    client = boto3.client("s3", endpoint_url=aws_env)
    settings = _settings(artifacts_bucket, tmp_path)
    old_docs, new_docs = b"o" * BIG, b"n" * BIG
    client.put_object(Bucket=artifacts_bucket, Key="api/dbt-docs/manifest.json", Body=old_docs)
    api_bootstrap.sync(settings, client)
    manifest = tmp_path / "docs" / "manifest.json"
    model = tmp_path / "artifacts" / "models" / "current" / "model.skops"
    assert manifest.read_bytes() == old_docs and model.read_bytes() == b"new"

    seen: set[tuple[str, int, bytes]] = set()
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                for path in (manifest, model):
                    data = path.read_bytes()
                    seen.add((path.name, len(data), data[:1] + data[-1:]))
        except BaseException as exc:  # a missing file is a failure of the test, not a warning
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            client.put_object(
                Bucket=artifacts_bucket, Key="api/dbt-docs/manifest.json", Body=new_docs
            )
            client.put_object(
                Bucket=artifacts_bucket, Key="api/models/20250701T000000Z/model.skops", Body=b"july"
            )
            client.put_object(
                Bucket=artifacts_bucket, Key="api/models/20250701T000000Z/metadata.json", Body=b"{}"
            )
            assert api_bootstrap.sync(settings, client)["current"] == "20250701T000000Z"
            client.put_object(
                Bucket=artifacts_bucket, Key="api/dbt-docs/manifest.json", Body=old_docs
            )
            assert api_bootstrap.sync(settings, client)["docs_files"] == 1
            client.delete_object(
                Bucket=artifacts_bucket, Key="api/models/20250701T000000Z/model.skops"
            )
            client.delete_object(
                Bucket=artifacts_bucket, Key="api/models/20250701T000000Z/metadata.json"
            )
            api_bootstrap.point_current(tmp_path / "artifacts" / "models")
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert {entry for entry in seen if entry[0] == "manifest.json"} <= {
        ("manifest.json", BIG, b"oo"),
        ("manifest.json", BIG, b"nn"),
    }
    assert {entry for entry in seen if entry[0] == "model.skops"} <= {
        ("model.skops", 3, b"nw"),
        ("model.skops", 4, b"jy"),
    }
    assert ("manifest.json", BIG, b"nn") in seen  # the reader did overlap the replacements
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".incoming")]
    assert leftovers == []


def test_an_idle_sync_changes_nothing_and_a_failed_one_keeps_the_last_good_state(
    artifacts_bucket, tmp_path, aws_env
):
    client = boto3.client("s3", endpoint_url=aws_env)
    settings = _settings(artifacts_bucket, tmp_path)
    api_bootstrap.sync(settings, client)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in files}
    # Nothing new in S3: nothing is fetched, no file the API watches is touched.
    assert api_bootstrap.sync(settings, client) == {
        "models_files": 0,
        "docs_files": 0,
        "current": "20250601T000000Z",
    }
    assert {p: p.stat().st_mtime_ns for p in files} == stamps

    # A version whose download fails half-way never appears, and `current` stays.
    client.put_object(Bucket=artifacts_bucket, Key="api/models/20250801T000000Z/a.json", Body=b"1")
    client.put_object(Bucket=artifacts_bucket, Key="api/models/20250801T000000Z/b.skops", Body=b"2")

    class FailsOnSecondFile:
        """The real client, with the connection lost before the version's second file."""

        def __getattr__(self, name):
            return getattr(client, name)

        def download_file(self, bucket, key, path):
            if key.endswith("b.skops"):
                raise ConnectionError("connection reset")
            return client.download_file(bucket, key, path)

    with pytest.raises(ConnectionError):
        api_bootstrap.sync(settings, FailsOnSecondFile())
    models = tmp_path / "artifacts" / "models"
    assert not (models / "20250801T000000Z").exists()
    assert os.readlink(models / "current") == "20250601T000000Z"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".incoming")]

    # The loop logs the failed round and goes on; the next round gets the new version.
    rounds = []
    clients = iter([FailsOnSecondFile(), client])

    def sync_with(settings_, client_=None):
        rounds.append(client_)
        return real_sync(settings_, next(clients))

    real_sync = api_bootstrap.sync
    api_bootstrap.sync = sync_with
    try:
        api_bootstrap.sync_forever(settings, every=0, client=client, rounds=2, sleep=lambda s: None)
    finally:
        api_bootstrap.sync = real_sync
    assert len(rounds) == 2
    assert os.readlink(models / "current") == "20250801T000000Z"
    assert (models / "current" / "b.skops").read_bytes() == b"2"
