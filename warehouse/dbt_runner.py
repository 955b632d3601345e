"""Running dbt with the product's settings: `tmdb transform` and `tmdb dbt ...`.

dbt's profile cannot parse a URL, so the one place that knows where the warehouse is
(`warehouse.connection`) resolves it into TMDB_DBT_* variables that `profiles.yml` reads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from warehouse.connection import bootstrap, uses_embedded
from warehouse.settings import Settings, disable_phone_home

PROJECT_DIR = Path(__file__).resolve().parents[1]
TARGET_DIR = PROJECT_DIR / "target"


class DbtFailed(RuntimeError):
    """dbt reported failures; the message names what failed."""


def dbt_environment(database_url: str, *, embedded: bool) -> dict[str, str]:
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    env = {
        "TMDB_DBT_TARGET": "embedded" if embedded else "remote",
        "TMDB_DBT_HOST": host,
        "TMDB_DBT_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "TMDB_DBT_USER": unquote(parts.username or "postgres"),
        "TMDB_DBT_PASSWORD": unquote(parts.password or ""),
        "TMDB_DBT_DBNAME": unquote(parts.path.lstrip("/") or "postgres"),
    }
    if "sslmode" in query:
        env["TMDB_DBT_SSLMODE"] = query["sslmode"][0]
    return env


def project_vars() -> dict[str, Any]:
    """The business thresholds of `dbt_project.yml`, shared with Python so both agree."""
    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle).get("vars", {}))


def manifest_hash() -> str | None:
    """sha256 of the last `target/manifest.json`: which dbt project a model was trained on."""
    manifest = target_dir() / "manifest.json"
    if not manifest.exists():
        return None
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def prepare(settings: Settings) -> None:
    """Warehouse up, analyst role in place, and dbt's variables set for this process."""
    disable_phone_home()
    url = bootstrap(settings)
    os.environ.update(dbt_environment(url, embedded=uses_embedded(settings)))


def run_dbt(settings: Settings, args: Sequence[str]):
    """Run one dbt command in-process against this project; raises `DbtFailed` on failure."""
    from dbt.cli.main import dbtRunner

    prepare(settings)
    full_args = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
    ]
    result = dbtRunner().invoke(full_args)
    if not result.success:
        raise DbtFailed(_failure_summary(args, result))
    return result


def _failure_summary(args: Sequence[str], result) -> str:
    failed = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node, "status", ""))
        if status in ("error", "fail"):
            failed.append(getattr(node.node, "name", "?"))
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        return f"dbt {args[0]} failed: {shown}"
    reason = str(result.exception).splitlines()[0] if result.exception else "see the log above"
    return f"dbt {args[0]} failed: {reason}"


def target_dir() -> Path:
    """Where dbt writes its artefacts (`DBT_TARGET_PATH` moves it, e.g. in tests)."""
    configured = os.environ.get("DBT_TARGET_PATH")
    return Path(configured) if configured else TARGET_DIR


def transform(settings: Settings) -> None:
    """`dbt build` (models, tests, snapshots, seeds), `dbt docs generate`, then the check that
    every model and column is described (the docs are the schema context of `/ask`)."""
    from warehouse.dbt_docs_check import undocumented

    run_dbt(settings, ["build"])
    run_dbt(settings, ["docs", "generate"])
    problems = undocumented(target_dir() / "manifest.json", target_dir() / "catalog.json")
    if problems:
        shown = "; ".join(problems[:3]) + (
            f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise DbtFailed(f"undocumented in the dbt project: {shown}")
