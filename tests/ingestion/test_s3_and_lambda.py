"""The lake on S3 (moto's server mode: real HTTP on loopback) and the three Lambda handlers,
invoked with the event shapes AWS sends, secrets coming from Secrets Manager.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import boto3
import pytest

from ingestion import lambda_handlers
from ingestion.fake_tmdb import FAKE_TMDB_TOKEN
from ingestion.lake import MOVIE_DETAILS, Lake
from ingestion.pipelines import reload_lake, run_bulk
from ingestion.tmdb.client import TmdbAuthError
from tests.conftest import REPO_ROOT, settings
from tests.ingestion.helpers import raw_counts, raw_movie_ids
from warehouse.settings import Settings, reset_settings_cache


@pytest.fixture
def s3_lake(aws_env: str, monkeypatch) -> str:
    bucket = f"tmdb-lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=aws_env).create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKE_URL", f"s3://{bucket}/raw")
    return bucket


def _keys(bucket: str, endpoint: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_bulk_into_an_s3_lake_and_rebuild_from_it(fake_tmdb, database_url, s3_lake, aws_env):
    server = fake_tmdb(movies=300)
    expected = set(server.catalogue.movie_ids(include_adult=False))
    run_bulk(settings(), export_date=server.catalogue.today)
    keys = _keys(s3_lake, aws_env)
    details = [k for k in keys if k.startswith("raw/tmdb/movie_details/dt=")]
    assert details and all(k.endswith(".jsonl.gz") for k in details)
    assert any(k.startswith("raw/tmdb/movie_ids_export/dt=") for k in keys)
    assert set(raw_movie_ids(database_url)) == expected

    before = raw_counts(database_url)
    assert reload_lake(settings()) >= len(details)
    assert raw_counts(database_url) == before


def _s3_event(bucket: str, keys: list[str]) -> dict:
    """An S3 ObjectCreated notification as Lambda receives it (keys URL-encoded)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": now,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "lake-loader",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key.replace("=", "%3D"), "size": 1, "sequencer": "0A1B"},
                },
            }
            for key in keys
        ]
    }


def _scheduled_event(time: str) -> dict:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/tmdb-daily"],
        "detail": {},
    }


def test_lambda_handlers_end_to_end(fake_tmdb, s3_lake, aws_env, database_url, monkeypatch):
    day0 = fake_tmdb(movies=400, seed=5, day=0)
    catalogue = day0.catalogue
    ids = catalogue.movie_ids(include_adult=False)
    # fake_tmdb set the token in the environment; the handlers must get it from Secrets Manager.
    client = boto3.client("secretsmanager", endpoint_url=aws_env)
    arn = client.create_secret(Name=f"t-{uuid.uuid4().hex[:8]}", SecretString=FAKE_TMDB_TOKEN)
    monkeypatch.setenv("TMDB_API_TOKEN_SECRET_ARN", arn["ARN"])
    monkeypatch.delenv("TMDB_API_TOKEN")
    db_arn = client.create_secret(
        Name=f"d-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"DATABASE_URL": database_url})
    )
    monkeypatch.setenv("DATABASE_URL_SECRET_ARN", db_arn["ARN"])
    monkeypatch.delenv("DATABASE_URL")
    reset_settings_cache()

    first = lambda_handlers.bulk_chunk_handler({"ids": ids[:150]})
    # A warm invocation reuses the secrets resolved at the first one: Secrets Manager is not
    # asked again, so the token's secret can even be gone.
    client.delete_secret(SecretId=arn["ARN"], ForceDeleteWithoutRecovery=True)
    second = lambda_handlers.bulk_chunk_handler(
        {"export_date": catalogue.date_of(0).isoformat(), "offset": 150, "count": 1000}
    )
    assert first == {"ids": 150, "fetched": 150, "missing": 0}
    assert second["fetched"] == len(ids) - 150

    keys = [k for k in _keys(s3_lake, aws_env) if k.startswith("raw/tmdb/movie_details/")]
    result = lambda_handlers.lake_loader_handler(_s3_event(s3_lake, keys))
    assert result == {"loaded_files": len(keys), "objects": len(keys)}
    assert set(raw_movie_ids(database_url)) == set(ids)
    # At-least-once delivery: the same notification again changes nothing.
    before = raw_counts(database_url)
    assert lambda_handlers.lake_loader_handler(_s3_event(s3_lake, keys))["loaded_files"] == 0
    assert raw_counts(database_url) == before

    day0.stop()
    day1 = fake_tmdb(movies=400, seed=5, day=1)
    monkeypatch.delenv("TMDB_API_TOKEN")
    arn = client.create_secret(Name=f"t-{uuid.uuid4().hex[:8]}", SecretString=FAKE_TMDB_TOKEN)
    monkeypatch.setenv("TMDB_API_TOKEN_SECRET_ARN", arn["ARN"])
    reset_settings_cache()  # a new execution environment, for the new server
    known = set(_keys(s3_lake, aws_env))
    event_time = f"{day1.catalogue.date_of(1).isoformat()}T09:30:00Z"
    daily = lambda_handlers.daily_handler(_scheduled_event(event_time))
    assert daily["changed"] > 0
    new_keys = sorted(set(_keys(s3_lake, aws_env)) - known)
    assert any(k.startswith("raw/tmdb/movie_changes/") for k in new_keys)
    lambda_handlers.lake_loader_handler(_s3_event(s3_lake, new_keys))
    added = {i for i in day1.catalogue.added_ids(1) if not day1.catalogue.details(i)["adult"]}
    assert added <= set(raw_movie_ids(database_url))
    assert Lake(settings()).list_files(MOVIE_DETAILS)


def test_lambda_keeps_dlt_working_folders_under_tmp() -> None:
    """Lambda can only write under /tmp: the image moves the state folder there."""
    dockerfile = (REPO_ROOT / "infra" / "lambda.Dockerfile").read_text()
    state_dir = re.search(r"TMDB_STATE_DIR=(\S+)", dockerfile).group(1)
    settings = Settings(TMDB_STATE_DIR=state_dir)
    assert str(settings.pipelines_dir).startswith("/tmp/")


def test_lambda_failures_raise(fake_tmdb, s3_lake, aws_env, monkeypatch):
    fake_tmdb(movies=20)
    monkeypatch.setenv("TMDB_API_TOKEN", "revoked")
    reset_settings_cache()
    with pytest.raises(TmdbAuthError):
        lambda_handlers.daily_handler(_scheduled_event("2025-07-01T09:30:00Z"))
    with pytest.raises(ValueError, match="offset"):
        lambda_handlers.bulk_chunk_handler({"export_date": "2025-07-01"})


def test_loader_ignores_objects_outside_the_lake_layout() -> None:
    event = _s3_event("b", ["raw/tmdb/_dlt_loads/x.jsonl", "raw/other/file.jsonl.gz"])
    assert lambda_handlers.lake_object_urls(event) == []
    event = _s3_event("b", ["raw/tmdb/movie_details/dt=2025-07-01/1.a.jsonl.gz"])
    assert lambda_handlers.lake_object_urls(event) == [
        "s3://b/raw/tmdb/movie_details/dt=2025-07-01/1.a.jsonl.gz"
    ]
