"""The built wheel is the product without the checkout: installed into a clean virtualenv and
run from another folder, it finds its dbt project and serves the API.

A source checkout hides mistakes here (the dbt project is at `Path(__file__).parents[1]`), so
this builds the wheel for real, installs it with the lock file's pins, and runs it where the
repository cannot be seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, free_port

UV = Path(sys.executable).parent / "uv"


def _run(args: list[str], **options) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtualenv with the lock file's dependencies and the wheel; returns its python."""
    root = tmp_path_factory.mktemp("wheel")
    _run([str(UV), "build", "--wheel", "--quiet", "-o", str(root / "dist"), str(REPO_ROOT)])
    (wheel,) = (root / "dist").glob("tmdb_analytics-*.whl")
    _run([str(UV), "venv", "--quiet", "--python", sys.executable, str(root / "venv")])
    python = root / "venv" / "bin" / "python"
    install = [str(UV), "pip", "install", "--quiet", "--python", str(python)]
    _run([*install, "-r", str(REPO_ROOT / "requirements.lock")])
    _run([*install, "--no-deps", str(wheel)])
    return python


def _environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The variables a user would set: no PYTHONPATH, nothing pointing into the checkout."""
    keep = ("PATH", "HOME", "LANG", "DBT_SEND_ANONYMOUS_USAGE_STATS", "RUNTIME__DLTHUB_TELEMETRY")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(DATABASE_URL=database_url, TMDB_STATE_DIR=str(tmp_path / "state"))
    return env


def test_the_installed_package_carries_its_dbt_project(installed, tmp_path, database_url):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _environment(tmp_path, database_url)
    probe = (
        "import json, warehouse; from warehouse.settings import Settings; s = Settings();"
        "print(json.dumps([warehouse.__file__, str(s.dbt_project_dir), str(s.dbt_target_path)]))"
    )
    out = _run([str(installed), "-c", probe], cwd=elsewhere, env=env).stdout
    module, project, target = json.loads(out)
    site = str(installed.parents[1])
    assert module.startswith(site) and not module.startswith(str(REPO_ROOT))
    assert project.startswith(site) and (Path(project) / "dbt_project.yml").is_file()
    assert target == str(tmp_path / "state" / "dbt" / "target")

    # dbt itself reads the bundled project: parse writes a manifest into the state folder.
    tmdb = installed.parent / "tmdb"
    _run([str(tmdb), "dbt", "parse"], cwd=elsewhere, env=env)
    manifest = json.loads((Path(target) / "manifest.json").read_text())
    assert "model.tmdb_analytics.dim_movies" in manifest["nodes"]


def test_the_installed_api_starts_from_another_folder(installed, tmp_path, database_url):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    server = subprocess.Popen(
        [str(installed), "-m", "uvicorn", "api.main:app", "--port", str(port)],
        cwd=elsewhere,
        env=_environment(tmp_path, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, server.stdout.read() if server.poll() is not None else ""
        assert health.status_code == 200
        assert health.json()["database"] == "ok"
    finally:
        server.terminate()
        server.wait(20)
