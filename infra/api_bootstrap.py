"""Start-up helpers for the API container (called by infra/api-entrypoint.sh).

- `sync`: copy `$ARTIFACTS_S3_URI/models/**` into `$TMDB_ARTIFACTS_DIR/models/` and
  `$ARTIFACTS_S3_URI/dbt-docs/**` into `$DBT_TARGET_PATH/`, then point `models/current` at the
  version named in `models/CURRENT` (S3 has no symlinks), or at the newest version folder.
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


def sync(environ: os._Environ | dict[str, str] | None = None, client=None) -> dict[str, object]:
    environ = os.environ if environ is None else environ
    bucket, prefix = split_s3_uri(environ["ARTIFACTS_S3_URI"])
    artifacts_dir = Path(environ.get("TMDB_ARTIFACTS_DIR", "artifacts"))
    docs_dir = Path(environ.get("DBT_TARGET_PATH", "target"))
    if client is None:
        import boto3

        client = boto3.client("s3")
    models_dir = artifacts_dir / MODELS
    models_dir.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    models = download_prefix(client, bucket, f"{prefix}{MODELS}/", models_dir)
    docs = download_prefix(client, bucket, f"{prefix}{DOCS}/", docs_dir)
    return {"models_files": models, "docs_files": docs, "current": point_current(models_dir)}


def export_lines(names: list[str], environ: os._Environ | dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(environ[name])}\n" for name in names)


def secrets_env() -> str:
    from ingestion.aws_secrets import load_secrets_into_environment

    return export_lines(load_secrets_into_environment(), os.environ)


def workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "sync":
        result = sync()
        print(f"api artifacts: {result}", file=sys.stderr)
    elif command == "env":
        sys.stdout.write(secrets_env())
    elif command == "workers":
        print(workers())
    else:
        print("usage: api_bootstrap.py sync|env|workers", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
