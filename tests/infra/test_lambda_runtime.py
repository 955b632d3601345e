"""The Lambda image's dependencies: pinned as in requirements.lock, and enough for the handlers
to import, with none of dbt, scikit-learn or FastAPI (a fresh venv, cached by the file's hash)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements-lambda.txt"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", re.M)
UV = Path(sys.executable).parent / "uv"

CHECK = """
import importlib.util, sys
from ingestion import lambda_handlers
for name in ("bulk_chunk_handler", "daily_handler", "lake_loader_handler"):
    assert callable(getattr(lambda_handlers, name)), name
present = [m for m in ("dbt", "sklearn", "fastapi", "pgserver", "uvicorn")
           if importlib.util.find_spec(m) is not None]
print("present:", present)
sys.exit(1 if present else 0)
"""


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version for name, version in PIN.findall(text)}


def test_pins_match_the_lock_file() -> None:
    lambda_pins = _pins(REQUIREMENTS.read_text())
    lock = _pins((REPO_ROOT / "requirements.lock").read_text())
    assert {"dlt", "psycopg2-binary", "httpx", "pydantic-settings", "boto3", "s3fs"} <= set(
        lambda_pins
    )
    assert {name: lock.get(name) for name in lambda_pins} == lambda_pins
    assert not {"dbt-core", "scikit-learn", "fastapi", "pgserver"} & set(lambda_pins)


def _runtime_venv() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    cache = REPO_ROOT / ".tmdb" / "lambda-runtime"
    venv = cache / digest
    if (venv / "bin" / "python").exists() and (venv / ".complete").exists():
        return venv
    building = cache / f"{digest}.building-{os.getpid()}"
    python = str(building / "bin" / "python")
    shutil.rmtree(building, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(building)],
        check=True,
        env=env,
        timeout=120,
    )
    subprocess.run(
        [*(str(UV), "pip", "install", "--quiet", "-r", str(REQUIREMENTS)), "--python", python],
        check=True,
        env=env,
        timeout=300,
    )
    (building / ".complete").touch()
    shutil.rmtree(venv, ignore_errors=True)
    building.rename(venv)
    return venv


def test_handlers_import_with_only_the_lambda_runtime(tmp_path: Path) -> None:
    venv = _runtime_venv()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONNOUSERSITE": "1",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CHECK],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "present: []" in result.stdout
