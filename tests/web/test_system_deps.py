"""`make test` ensures its own system dependencies (tests/ensure_system_deps.sh): found → quiet
success; missing where it cannot install → one line that says exactly what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tests" / "ensure_system_deps.sh"


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _bin_without_browser(tmp_path: Path, uid: str) -> Path:
    """A PATH of the few tools the script uses, no browser, and an `id` that says `uid`."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "env"):
        (folder / tool).symlink_to(shutil.which(tool))
    fake_id = folder / "id"
    fake_id.write_text(f"#!{shutil.which('bash')}\necho {uid}\n")
    fake_id.chmod(0o755)
    return folder


def test_a_found_browser_needs_nothing(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "CHROMIUM": shutil.which("true")}
    result = _run(tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_without_a_browser_and_without_root_it_names_the_install(tmp_path: Path) -> None:
    env = {"PATH": str(_bin_without_browser(tmp_path, "1000"))}
    result = _run(tmp_path, env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "apt-get install -y chromium" in lines[0] and "CHROMIUM=" in lines[0]


def test_a_configured_browser_that_does_not_exist_is_not_taken_for_found(tmp_path: Path) -> None:
    env = {"PATH": str(_bin_without_browser(tmp_path, "1000")), "CHROMIUM": "/nowhere/chromium"}
    result = _run(tmp_path, env)
    assert result.returncode == 1
    assert "chromium" in result.stderr
