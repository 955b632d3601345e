"""Running dbt with the product's settings: `tmdb transform` and `tmdb dbt ...`.

dbt's profile cannot parse a URL, and `profiles.yml` at the root reads `TMDB_DBT_*` variables for
analysts who run `dbt` by hand. The product does not set those variables: for each run it
writes the resolved profile (the root file's target with the connection filled in from
`warehouse.connection`) into a private temporary folder and hands dbt that folder, the project and
the target path as arguments.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from warehouse.connection import bootstrap, uses_embedded
from warehouse.settings import Settings

PROFILE_NAME = "tmdb"
PROFILE_FILE = "profiles.yml"


class DbtFailed(RuntimeError):
    """dbt reported failures; the message names what failed."""


def connection_fields(database_url: str) -> dict[str, Any]:
    """The profile's connection keys for a libpq URL (a `?host=` socket folder included)."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    fields: dict[str, Any] = {
        "host": query.get("host", [parts.hostname or "localhost"])[0],
        "port": int(parts.port or query.get("port", ["5432"])[0]),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/") or "postgres"),
    }
    if "sslmode" in query:
        fields["sslmode"] = query["sslmode"][0]
    return fields


def resolved_profile(settings: Settings, database_url: str) -> dict[str, Any]:
    """The root `profiles.yml`'s target for this warehouse, its connection resolved.

    Schema, threads and timeouts stay defined once, in the root file; only the keys that name
    the server come from the settings."""
    with open(settings.dbt_project_dir / PROFILE_FILE, encoding="utf-8") as handle:
        profile = yaml.safe_load(handle)[PROFILE_NAME]
    target = "embedded" if uses_embedded(settings) else "remote"
    output = dict(profile["outputs"][target])
    output.update(connection_fields(database_url))
    return {PROFILE_NAME: {"target": target, "outputs": {target: output}}}


@contextmanager
def _profiles_dir(profile: dict[str, Any]) -> Iterator[Path]:
    """A folder only this user can read, holding the profile (and its password) for one run."""
    with tempfile.TemporaryDirectory(prefix="tmdb-dbt-") as folder:
        path = Path(folder) / PROFILE_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yaml.safe_dump(profile, handle)
        yield Path(folder)


def project_vars(settings: Settings) -> dict[str, Any]:
    """The business thresholds of `dbt_project.yml`, shared with Python so both agree."""
    with open(settings.dbt_project_dir / "dbt_project.yml", encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle).get("vars", {}))


def manifest_hash(target_dir: Path) -> str | None:
    """sha256 of the last `manifest.json`: which dbt project a model was trained on."""
    manifest = target_dir / "manifest.json"
    if not manifest.exists():
        return None
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def run_dbt(settings: Settings, args: Sequence[str]):
    """Run one dbt command in-process against this project; raises `DbtFailed` on failure.

    The warehouse is brought up first (analyst role in place); dbt's own usage reporting and
    version check are switched off here, for every command, rather than through the environment.
    """
    from dbt.cli.main import dbtRunner

    url = bootstrap(settings)
    with _profiles_dir(resolved_profile(settings, url)) as profiles_dir:
        paths = [
            "--project-dir",
            str(settings.dbt_project_dir),
            "--profiles-dir",
            str(profiles_dir),
        ]
        if _accepts(args, "target_path"):
            paths += ["--target-path", str(settings.dbt_target_path)]
        # Keyword arguments reach dbt's top-level options only; the paths above are per command.
        result = dbtRunner().invoke(
            [*args, *paths],
            log_path=str(settings.dbt_target_path.parent / "logs"),
            send_anonymous_usage_stats=False,
            version_check=False,
        )
    if not result.success:
        raise DbtFailed(_failure_summary(args, result))
    return result


def _accepts(args: Sequence[str], option: str) -> bool:
    """Whether the dbt command named in `args` takes `option` (`debug` has no target path)."""
    from dbt.cli.main import cli

    command = cli
    for word in args:
        if word.startswith("-"):
            continue
        found = getattr(command, "commands", {}).get(word)
        if found is None:
            break
        command = found
    return command is not cli and any(param.name == option for param in command.params)


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


@dataclass(frozen=True)
class WarnedTest:
    """A data test of severity `warn` that found rows (a plausibility check: the build went on)."""

    name: str
    failures: int


def build_warnings(result) -> list[WarnedTest]:
    """The tests of a dbt run (`run_dbt`'s result) that warned, with the rows each found."""
    warned = [
        WarnedTest(node.node.name, int(node.failures or 0))
        for node in getattr(result.result, "results", None) or []
        if str(node.status) == "warn"
    ]
    return sorted(warned, key=lambda warning: warning.name)


def warning_lines(warnings: Sequence[WarnedTest]) -> list[str]:
    """The build summary's warning block: one line per test, with the rows it found."""
    if not warnings:
        return []
    tests = "test" if len(warnings) == 1 else "tests"
    lines = [f"{len(warnings)} plausibility {tests} warned (rows kept, the build went on):"]
    for warning in warnings:
        rows = "row" if warning.failures == 1 else "rows"
        lines.append(f"  {warning.name}: {warning.failures:,} {rows}")
    return lines


#: `dbt build` as the product runs it (`tmdb transform`, `tmdb refresh`): models, seeds, the
#: snapshot and every data test, without dbt's unit tests. A unit test's inputs are fixed rows,
#: not the warehouse's data, so it says the same every day; run daily they cost a tenth of an
#: incremental build at 300,000 films. dbt's own advice is to run them in development and CI:
#: `make test` runs every one (tests/dbt/test_unit_tests.py).
PRODUCTION_BUILD = ("build", "--exclude-resource-type", "unit_test")


def transform(settings: Settings, *, full_refresh: bool = False) -> list[WarnedTest]:
    """`dbt build` (models, data tests, snapshots, seeds: `PRODUCTION_BUILD`), `dbt docs
    generate`, then the check that every model and column is described (the docs are the
    schema context of `/ask`).

    Incremental models catch up on what changed since their last build; `full_refresh`
    rebuilds them from the raw tables (after a change of their logic, or to start over).

    The docs are generated without compiling again (`--no-compile`): the build has just
    written the manifest, every model's compiled SQL in it, to the same target folder, and
    compiling the project a second time cost 2.5 s a day at 300,000 films (it re-runs the
    introspective queries of incremental models) for the same result; the catalog alone is
    read from the warehouse.

    Returns the plausibility tests that warned: they never stop the build, and `docs generate`
    overwrites `run_results.json`, so they are taken from the build's own result."""
    build = [*PRODUCTION_BUILD, "--full-refresh"] if full_refresh else [*PRODUCTION_BUILD]
    warnings = build_warnings(run_dbt(settings, build))
    run_dbt(settings, ["docs", "generate", "--no-compile"])
    check_documented(settings.dbt_target_path)
    return warnings


def check_documented(target: Path) -> None:
    """Raise `DbtFailed` when `dbt docs generate` in `target` left a model or column
    undescribed (the docs are the schema context of `/ask`)."""
    from warehouse.dbt_docs_check import undocumented

    problems = undocumented(target / "manifest.json", target / "catalog.json")
    if problems:
        shown = "; ".join(problems[:3]) + (
            f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise DbtFailed(f"undocumented in the dbt project: {shown}")


@dataclass(frozen=True)
class BuildCounts:
    """What a `dbt build` did: models built, and data and unit tests by outcome."""

    models_built: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0


def build_counts(result) -> BuildCounts:
    """The counts of a `run_dbt(..., ["build"])` result, for the refresh summary."""
    models = passed = warned = failed = 0
    for node in getattr(result.result, "results", None) or []:
        kind, status = str(getattr(node.node, "resource_type", "")), str(node.status)
        if kind.endswith("model") and status == "success":
            models += 1
        elif kind.endswith("test"):
            if status == "pass":
                passed += 1
            elif status == "warn":
                warned += 1
            elif status in ("fail", "error"):
                failed += 1
    return BuildCounts(models, passed, warned, failed)


# What the API reads from the target folder, the manifests last: a reader that reloads when a
# manifest changes finds the catalog and the docs page of the same build already in place.
SERVED_ARTIFACTS = ("catalog.json", "index.html", "manifest.json", "semantic_manifest.json")


def install_artifacts(built: Path, target: Path) -> list[str]:
    """Copy the served artefacts of a finished dbt run (`built`) into the API's target folder.

    Each file is copied beside its destination under a temporary name, then renamed over it
    (`os.replace`, atomic on one filesystem): a reader sees the old file or the new, never half
    of one, and a run that fails before this point leaves the served set untouched."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    missing = [name for name in SERVED_ARTIFACTS if not (built / name).is_file()]
    if missing:
        raise DbtFailed(f"dbt docs generate wrote no {', '.join(missing)} in {built}")
    for name in SERVED_ARTIFACTS:
        staging = target / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(built / name, staging)
        os.replace(staging, target / name)
    return list(SERVED_ARTIFACTS)
