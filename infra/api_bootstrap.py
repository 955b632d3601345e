"""Start-up helpers for the API container (called by infra/api-entrypoint.sh).

- `sync`: copy `$ARTIFACTS_S3_URI/models/**` into `$TMDB_ARTIFACTS_DIR/models/` and
  `$ARTIFACTS_S3_URI/dbt-docs/**` into `$DBT_TARGET_PATH/` (all three read through `Settings`),
  then point `models/current` at the version named in `models/CURRENT` (S3 has no symlinks), or
  at the newest version folder.
- `env`: resolve `*_SECRET_ARN` through Secrets Manager (the same code the Lambdas use) and print
  shell `export` lines, so a database URL never sits in the task definition.
- `workers`: uvicorn workers, one per CPU available to the task.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from warehouse.settings import Settings

MODELS = "models"
DOCS = "dbt-docs"
CURRENT_MARKER = "CURRENT"
CURRENT_LINK = "current"


def split_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URI: {uri}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def download_prefix(client, bucket: str, prefix: str, destination: Path) -> int:
    """Every object under `prefix` into `destination`, keeping relative paths; returns count."""
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            target = (destination / relative).resolve()
            if not target.is_relative_to(destination.resolve()):
                raise ValueError(f"refusing to write outside {destination}: {item['Key']}")
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(target))
            count += 1
    return count


def point_current(models_dir: Path) -> str | None:
    """`models/current` → the version in `models/CURRENT`, else the newest version folder."""
    marker = models_dir / CURRENT_MARKER
    versions = sorted(p.name for p in models_dir.iterdir() if p.is_dir() and not p.is_symlink())
    version = marker.read_text().strip() if marker.exists() else (versions[-1] if versions else "")
    if not version:
        return None
    if version not in versions:
        raise ValueError(f"{marker} names {version!r}, which is not among {versions}")
    link = models_dir / CURRENT_LINK
    staging = models_dir / f".{CURRENT_LINK}.tmp"
    staging.unlink(missing_ok=True)
    staging.symlink_to(version)
    staging.replace(link)
    return version


def sync(settings: Settings, client=None) -> dict[str, object]:
    if not settings.artifacts_s3_uri:
        raise ValueError("ARTIFACTS_S3_URI is not set: nothing to sync the API's artifacts from")
    bucket, prefix = split_s3_uri(settings.artifacts_s3_uri)
    docs_dir = settings.dbt_target_path
    if client is None:
        import boto3

        client = boto3.client("s3", region_name=settings.aws_region)
    models_dir = settings.artifacts_dir / MODELS
    models_dir.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    models = download_prefix(client, bucket, f"{prefix}{MODELS}/", models_dir)
    docs = download_prefix(client, bucket, f"{prefix}{DOCS}/", docs_dir)
    return {"models_files": models, "docs_files": docs, "current": point_current(models_dir)}


def secrets_env(settings: Settings) -> str:
    """`export NAME=value` lines for the secrets behind `*_SECRET_ARN`, quoted for `eval`."""
    from ingestion.aws_secrets import resolved_secrets, variable_name

    return "".join(
        f"export {variable_name(field)}={shlex.quote(value.get_secret_value())}\n"
        for field, value in resolved_secrets(settings).items()
    )


def workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    settings = Settings()
    if command == "sync":
        result = sync(settings)
        print(f"api artifacts: {result}", file=sys.stderr)
    elif command == "env":
        sys.stdout.write(secrets_env(settings))
    elif command == "workers":
        print(workers())
    else:
        print("usage: api_bootstrap.py sync|env|workers", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
