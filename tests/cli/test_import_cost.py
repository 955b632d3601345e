"""`tmdb --help` answers at once: the CLI and the API import their heavy libraries only in the
command or request that uses them, and one-line errors still name every expected failure."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.errors import EXPECTED, UsageError, expected_failure

REPO_ROOT = Path(__file__).resolve().parents[2]

# Seconds of import each, or pulled in by one that is: never needed to print help.
HEAVY = (
    "sklearn", "skops", "scipy", "dlt", "dbt", "matplotlib", "pandas", "fastapi", "uvicorn",
    "google.genai", "metricflow", "sqlglot", "boto3", "botocore",
)  # fmt: skip

# What the model and the charts need; the API starts without them.
MODEL_AND_CHARTS = ("sklearn", "skops", "scipy", "pandas", "matplotlib", "dlt", "dbt")

_LOADED = """
import json, sys
def loaded(names):
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in sys.modules)]
"""

HELP_SCRIPT = (
    _LOADED
    + """
import cli.main
from typer.testing import CliRunner
helps = {}
for args in (["--help"], ["db", "--help"], ["db", "url", "--help"], ["ingest", "--help"],
             ["train", "--help"], ["ask", "--help"], ["serve", "--help"]):
    result = CliRunner().invoke(cli.main.app, args)
    helps[" ".join(args)] = [result.exit_code, result.output]
print(json.dumps({"loaded": loaded(json.loads(sys.argv[1])), "helps": helps,
                  "probe": loaded(["typer", "rich"])}))
"""
)

API_SCRIPT = (
    _LOADED
    + """
import api.main
print(json.dumps({"loaded": loaded(json.loads(sys.argv[1])), "probe": loaded(["api.routes"]),
                  "routes": sorted(api.main.app.openapi()["paths"])}))
"""
)


def _fresh_python(script: str, names: tuple[str, ...]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(names)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_help_imports_no_heavy_library() -> None:
    report = _fresh_python(HELP_SCRIPT, HEAVY)
    # The check can see what was imported, and the help it guards was really printed.
    assert report["probe"] == ["typer", "rich"]
    for args, (exit_code, output) in report["helps"].items():
        assert exit_code == 0, (args, output)
    top = report["helps"]["--help"][1]
    for command in ("db", "ingest", "transform", "train", "score", "serve", "ask"):
        assert command in top, top
    assert report["loaded"] == [], f"`tmdb --help` imported {report['loaded']}"


def test_api_starts_without_the_model_and_chart_libraries() -> None:
    report = _fresh_python(API_SCRIPT, MODEL_AND_CHARTS)
    assert report["probe"] == ["api.routes"]
    assert "/predict" in report["routes"] and "/ask" in report["routes"], report["routes"]
    assert report["loaded"] == [], f"`import api.main` imported {report['loaded']}"


# --- expected failures, named rather than imported --------------------------------------------

# The contract: each of these, and any subclass, becomes a one-line error.
EXPECTED_FAILURES = [
    ("ingestion.tmdb.client", "TmdbError"),
    ("warehouse.connection", "WarehouseUnavailable"),
    ("warehouse.embedded", "EmbeddedWarehouseError"),
    ("warehouse.dbt_runner", "DbtFailed"),
    ("ml.artifacts", "ModelUnavailable"),
    ("ml.train", "NotEnoughData"),
    ("psycopg2", "OperationalError"),
    ("dlt.common.destination.exceptions", "DestinationTerminalException"),
    ("dlt.common.destination.exceptions", "DestinationTransientException"),
    ("dlt.common.storages.exceptions", "StorageException"),
    ("botocore.exceptions", "BotoCoreError"),
    ("botocore.exceptions", "ClientError"),
    ("cli.errors", "UsageError"),
]


def _bare(cls: type[BaseException]) -> BaseException:
    """An instance without calling `__init__`: ClientError and dlt's exceptions want arguments."""
    return cls.__new__(cls)


@pytest.mark.parametrize(
    ("module", "name"), EXPECTED_FAILURES, ids=[n for _, n in EXPECTED_FAILURES]
)
def test_each_expected_failure_is_recognised(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    # Named by the module that defines it: only that module's import can have made it raisable.
    assert cls.__module__ == module
    assert cls is UsageError or f"{module}:{name}" in EXPECTED

    direct = _bare(cls)
    assert expected_failure(direct) is direct

    subclass = type(f"Special{name}", (cls,), {})
    special = _bare(subclass)
    assert expected_failure(special) is special

    wrapped = RuntimeError("pipeline step failed")
    wrapped.__cause__ = direct
    outer = ValueError("while running")
    outer.__context__ = wrapped
    assert expected_failure(outer) is direct


def test_other_failures_keep_their_traceback() -> None:
    assert expected_failure(ValueError("bug")) is None
    assert expected_failure(KeyError("missing")) is None
    chained = RuntimeError("outer")
    chained.__cause__ = ValueError("inner")
    assert expected_failure(chained) is None


def test_a_cycle_in_the_chain_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert expected_failure(first) is None


def test_names_of_modules_never_imported_are_skipped(monkeypatch) -> None:
    monkeypatch.setattr(
        "cli.errors.EXPECTED", ("not_a_module.anywhere:Nope", "cli.errors:NotAClass")
    )
    assert expected_failure(UsageError("bad --since")) is not None
    assert expected_failure(ValueError("bug")) is None
