"""The end of `tmdb refresh` in AWS: the dbt docs and the promoted model to `ARTIFACTS_S3_URI`.

The layout is the one the API container's `python -m infra.api_bootstrap sync` reads (a test
publishes with this module and syncs with that one): `models/<version>/<file>`, `models/CURRENT`
holding the promoted version (S3 has no symlinks), and `dbt-docs/<file>`. The model's files and
the docs go first and `CURRENT` last, so a sync that runs meanwhile finds either the old version
named or the new one complete.
"""

from __future__ import annotations

from pathlib import Path

from warehouse.artifacts_bucket import CURRENT_MARKER, DOCS, MODELS, s3_client, split_s3_uri
from warehouse.dbt_runner import SERVED_ARTIFACTS
from warehouse.settings import Settings


def publish(settings: Settings, client=None) -> dict[str, object]:
    """Upload the served dbt artefacts and the promoted model; returns what was written."""
    from ml import artifacts

    bucket, prefix = split_s3_uri(settings.artifacts_s3_uri or "")
    client = client or s3_client(settings)
    docs = 0
    for name in SERVED_ARTIFACTS:
        path = settings.dbt_target_path / name
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}{DOCS}/{name}")
            docs += 1
    current = artifacts.models_dir(settings.artifacts_dir) / artifacts.CURRENT
    version = None
    if current.is_dir():
        version_dir: Path = current.resolve()
        version = version_dir.name
        for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
            key = f"{prefix}{MODELS}/{version}/{path.relative_to(version_dir).as_posix()}"
            client.upload_file(str(path), bucket, key)
        client.put_object(
            Bucket=bucket, Key=f"{prefix}{MODELS}/{CURRENT_MARKER}", Body=version.encode()
        )
    return {"docs_files": docs, "model_version": version}
