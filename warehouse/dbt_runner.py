"""Running dbt with the product's settings: `tmdb transform` and `tmdb dbt ...`.

dbt's profile cannot parse a URL, so the one place that knows where the warehouse is
(`warehouse.connection`) resolves it into TMDB_DBT_* variables that `profiles.yml` reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

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


def transform(settings: Settings) -> None:
    """`dbt build` (models, tests, snapshots, seeds) then `dbt docs generate`."""
    run_dbt(settings, ["build"])
    run_dbt(settings, ["docs", "generate"])
