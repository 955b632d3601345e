"""Where the API's artefacts live in S3: `tmdb refresh` publishes there (`cli/publish.py`) and
the API container syncs from there (`infra/api_bootstrap.py`). One definition for both sides,
so a publisher and a reader can never disagree on the layout:

- `models/<version>/<file>`: a model version, uploaded whole;
- `models/CURRENT`: the promoted version's name (S3 has no symlinks), written last;
- `dbt-docs/<file>`: the dbt artefacts the API serves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from warehouse.settings import Settings

MODELS = "models"
DOCS = "dbt-docs"
CURRENT_MARKER = "CURRENT"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/' or empty) of `ARTIFACTS_S3_URI`."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"ARTIFACTS_S3_URI is not an s3:// URI: {uri}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def s3_client(settings: Settings):
    """A boto3 S3 client for the settings' region and endpoint (moto's server in tests)."""
    import boto3

    return boto3.client(
        "s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
