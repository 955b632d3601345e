"""`pip install` with pip's own resolver, without the lock file, works (issue 27 §4).

`make install` resolves nothing: uv installs the lock file's pins. Someone who runs
`pip install .` or installs the wheel gets only pyproject.toml's ranges and pip's resolver, and
pip once gave up there: it backtracked through boto3 / aiobotocore / s3fs releases into an s3fs
that pins a yanked fsspec, and stopped with ResolutionImpossible. This does what that person
does: builds the wheel with pip, creates a clean virtualenv with `python -m venv`, and runs
`pip install <wheel>` with the dependencies resolved from the package index configured on this
machine (no uv, no lock file, no --no-deps), then runs `tmdb --help` from another folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cli.main import app
from tests.conftest import REPO_ROOT

PIP_TIMEOUT = 900  # seconds; a resolution that backtracks for this long is a failure too


def _run(args: list[str], timeout: float = 120, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **options)
    assert result.returncode == 0, " ".join(args) + "\n" + result.stdout[-20000:] + result.stderr
    return result


def _environment() -> dict[str, str]:
    """This machine's pip settings (index, certificates) but nothing of the test's own venv."""
    leaks = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_NO_DEPS", "PIP_REQUIREMENT")
    env = {name: value for name, value in os.environ.items() if name not in leaks}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return env


def _expected_commands() -> set[str]:
    group = typer.main.get_command(app)
    with typer.Context(group) as context:
        return {
            name
            for name in group.list_commands(context)
            if not group.get_command(context, name).hidden
        }


@pytest.mark.slow
@pytest.mark.timeout(PIP_TIMEOUT + 300)
def test_pip_alone_installs_the_wheel_in_a_clean_virtualenv(tmp_path: Path):
    env = _environment()
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]

    dist = tmp_path / "dist"
    _run([*pip, "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO_ROOT)], env=env)
    (wheel,) = dist.glob("tmdb_analytics-*.whl")

    _run([*pip, "install", str(wheel)], timeout=PIP_TIMEOUT, env=env, cwd=tmp_path)
    _run([*pip, "check"], env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _run([str(venv / "bin" / "tmdb"), "--help"], env=env, cwd=elsewhere).stdout
    assert "Usage: tmdb" in out
    # The first word of a line in the Commands panel ("│ train  Train the …") is a command.
    listed = {name for name in re.findall(r"^\W (\S+)  ", out, re.M) if not name.startswith("-")}
    assert listed == _expected_commands(), out
