"""Start-up helpers for the API container (called by infra/api-entrypoint.sh).

- `sync`: copy `$ARTIFACTS_S3_URI/models/**` into `$TMDB_ARTIFACTS_DIR/models/` and
  `$ARTIFACTS_S3_URI/dbt-docs/**` into `$DBT_TARGET_PATH/` (all three read through `Settings`),
  then point `models/current` at the version named in `models/CURRENT` (S3 has no symlinks), or
  at the newest version folder. `sync --every SECONDS` repeats that for ever: the daily workflow
  publishes new docs and a new model there, and the running API picks them up without a restart.
- `env`: resolve `*_SECRET_ARN` through Secrets Manager (the same code the Lambdas use) and print
  shell `export` lines, so a database URL never sits in the task definition.
- `workers`: uvicorn workers, one per CPU available to the task.

The API reads these files while a sync runs, so a sync never writes where the API reads: every
file is downloaded into a staging folder beside its destination and moved into place with one
`rename` (a reader sees the old file or the new one, never a part); a new model version appears
as a whole folder; `current` is swapped last. A file whose size and ETag (recorded in a ledger
beside its folder) match the S3 object is not fetched again, so an idle loop changes nothing the
API watches.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from warehouse.artifacts_bucket import CURRENT_MARKER, DOCS, MODELS, s3_client, split_s3_uri
from warehouse.settings import Settings

CURRENT_LINK = "current"
STAGING_PREFIX = ".incoming-"
# dbt's docs site reads these; the manifest goes last, so a reader that reloads when the
# manifest changes finds the catalog and the semantic manifest of the same build already there.
DOCS_LAST = ("catalog.json", "semantic_manifest.json", "manifest.json")

logger = logging.getLogger("api_bootstrap")


def list_prefix(client, bucket: str, prefix: str) -> dict[str, dict]:
    """Every object under `prefix` by its path relative to it (folders' markers left out)."""
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            if relative and not relative.endswith("/"):
                objects[relative] = item
    return objects


def _inside(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write outside {root}: {relative}")
    return target


class Ledger:
    """The S3 ETag each local file was downloaded at, kept beside the folder it describes (a
    re-upload of the same size within the same second still differs by its ETag)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder.parent / f".{folder.name}.s3-etags.json"
        try:
            self.etags: dict[str, str] = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            self.etags = {}

    def up_to_date(self, relative: str, target: Path, item: dict) -> bool:
        return (
            target.is_file()
            and target.stat().st_size == item["Size"]
            and self.etags.get(relative) == item["ETag"]
        )

    def record(self, relative: str, item: dict) -> None:
        self.etags[relative] = item["ETag"]

    def save(self) -> None:
        part = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        part.write_text(json.dumps(self.etags, indent=1, sort_keys=True))
        os.replace(part, self.path)


def _fetch(client, bucket: str, item: dict, target: Path, staging: Path) -> None:
    """One object into `staging`, stamped with its S3 time, then renamed onto `target`."""
    staging.mkdir(parents=True, exist_ok=True)
    part = staging / target.name
    client.download_file(bucket, item["Key"], str(part))
    stamp = item["LastModified"].timestamp()
    os.utime(part, (stamp, stamp))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)


def sync_files(client, bucket: str, prefix: str, destination: Path, last: tuple[str, ...] = ()):
    """Objects under `prefix` that differ from `destination`'s files, each replaced in one
    rename; the names in `last` are replaced after every other file. Returns the count."""
    objects = list_prefix(client, bucket, prefix)
    order = sorted(objects, key=lambda name: last.index(name) + 1 if name in last else 0)
    staging = destination.parent / f"{STAGING_PREFIX}{destination.name}.{os.getpid()}"
    ledger = Ledger(destination)
    count = 0
    try:
        for relative in order:
            target = _inside(destination, relative)
            if not ledger.up_to_date(relative, target, objects[relative]):
                _fetch(client, bucket, objects[relative], target, staging)
                ledger.record(relative, objects[relative])
                count += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if count:
            ledger.save()
    return count


def sync_models(client, bucket: str, prefix: str, models_dir: Path) -> int:
    """Model versions and the `CURRENT` marker. A version new to this disk is downloaded whole
    into a staging folder and renamed into place, so no reader ever lists a half version."""
    objects = list_prefix(client, bucket, prefix)
    versions: dict[str, dict[str, dict]] = {}
    loose: dict[str, dict] = {}
    for relative, item in objects.items():
        version, sep, rest = relative.partition("/")
        if sep:
            versions.setdefault(version, {})[rest] = item
        else:
            loose[relative] = item
    count = 0
    staging_root = models_dir / f"{STAGING_PREFIX}{os.getpid()}"
    parts = staging_root / ".parts"
    ledger = Ledger(models_dir)
    try:
        for version, files in sorted(versions.items()):
            final = _inside(models_dir, version)
            folder = final if final.exists() else staging_root / version
            fetched = []
            for relative, item in sorted(files.items()):
                target = _inside(folder, relative)
                if not (
                    folder == final
                    and ledger.up_to_date(f"{version}/{relative}", final / relative, item)
                ):
                    _fetch(client, bucket, item, target, parts)
                    fetched.append((f"{version}/{relative}", item))
            if folder != final:
                os.rename(folder, final)
            for relative, item in fetched:
                ledger.record(relative, item)
            count += len(fetched)
        for name, item in loose.items():
            target = _inside(models_dir, name)
            if not ledger.up_to_date(name, target, item):
                _fetch(client, bucket, item, target, parts)
                ledger.record(name, item)
                count += 1
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        if count:
            ledger.save()
    return count


def point_current(models_dir: Path) -> str | None:
    """`models/current` → the version in `models/CURRENT`, else the newest version folder."""
    marker = models_dir / CURRENT_MARKER
    versions = sorted(
        p.name
        for p in models_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )
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
    client = client or s3_client(settings)
    models_dir = settings.artifacts_dir / MODELS
    models_dir.mkdir(parents=True, exist_ok=True)
    settings.dbt_target_path.mkdir(parents=True, exist_ok=True)
    models = sync_models(client, bucket, f"{prefix}{MODELS}/", models_dir)
    docs = sync_files(client, bucket, f"{prefix}{DOCS}/", settings.dbt_target_path, last=DOCS_LAST)
    return {"models_files": models, "docs_files": docs, "current": point_current(models_dir)}


def sync_forever(
    settings: Settings,
    every: float,
    client=None,
    rounds: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """`sync` every `every` seconds (for ever, or `rounds` times). A failed round is logged in
    one line and the next one tries again: what the API serves stays as the last good sync."""
    client = client or s3_client(settings)
    done = 0
    while rounds is None or done < rounds:
        try:
            result = sync(settings, client)
            if result["models_files"] or result["docs_files"]:
                logger.info("api artifacts updated: %s", result)
        except Exception as error:  # one bad round (S3, a CURRENT naming a missing version)
            logger.warning("api artifacts sync failed, keeping what is here: %s", error)
        done += 1
        if rounds is None or done < rounds:
            sleep(every)


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
    if command == "sync" and len(argv) == 4 and argv[2] == "--every":
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        sync_forever(settings, float(argv[3]))
    elif command == "sync" and len(argv) == 2:
        result = sync(settings)
        print(f"api artifacts: {result}", file=sys.stderr)
    elif command == "env":
        sys.stdout.write(secrets_env(settings))
    elif command == "workers":
        print(workers())
    else:
        print("usage: api_bootstrap.py sync [--every SECONDS]|env|workers", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
