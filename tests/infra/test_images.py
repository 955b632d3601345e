"""What the two images hold, read from their Dockerfiles' COPY lines (no Docker engine needed).

The local TMDB server (`ingestion/fake_tmdb/`) and the Gemini stand-in (`cli/gemini_standin.py`)
are demo and test tools: neither image carries them, yet each carries every module its entry
point imports (the import graph is taken from a real import in a subprocess).
"""

from __future__ import annotations

import fnmatch
import posixpath
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

INFRA = REPO_ROOT / "infra"
LEFT_OUT = ("ingestion/fake_tmdb/", "cli/gemini_standin.py")

LIST_MODULES = """
import importlib, sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
for name in sys.argv[2:]:
    importlib.import_module(name)
for module in list(sys.modules.values()):
    file = getattr(module, "__file__", None)
    if file and Path(file).resolve().is_relative_to(root):
        print(Path(file).resolve().relative_to(root).as_posix())
"""


def _copies(dockerfile: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context (line continuations joined)."""
    text = dockerfile.replace("\\\n", " ")
    copies = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() != "COPY":
            continue
        assert not any(w.startswith("--from") for w in words), line
        args = [w for w in words[1:] if not w.startswith("--")]
        copies.append((args[:-1], args[-1]))
    return copies


def _ignored(path: Path) -> bool:
    """Left out of the build context by .dockerignore (its patterns, and everything under a
    pattern that names a folder; the file uses no `!` exceptions)."""
    relative = path.relative_to(REPO_ROOT).as_posix()
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns)
    parents = [relative, *(p.as_posix() for p in Path(relative).parents if p.as_posix() != ".")]
    return any(
        fnmatch.fnmatchcase(candidate, pattern.removeprefix("**/"))
        or fnmatch.fnmatchcase(Path(candidate).name, pattern.removeprefix("**/"))
        if pattern.startswith("**/")
        else fnmatch.fnmatchcase(candidate, pattern)
        for pattern in patterns
        for candidate in parents
    )


def _source_files(source: str) -> list[tuple[Path, str]]:
    """(file, its path relative to where COPY puts it) for one COPY source, as the build context
    holds it (without what .dockerignore leaves out)."""
    if source.endswith("/"):
        folder = REPO_ROOT / source
        assert folder.is_dir(), source
        return [
            (path, path.relative_to(folder).as_posix())
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not _ignored(path)
        ]
    matches = sorted(REPO_ROOT.glob(source))
    assert matches, f"COPY {source} matches nothing"
    return [(path, path.name) for path in matches if path.is_file() and not _ignored(path)]


def image_files(name: str, root: str) -> set[str]:
    """The repository files `infra/<name>` puts under `root`, as paths relative to it."""
    files = set()
    for sources, destination in _copies((INFRA / name).read_text()):
        destination = destination.replace("${LAMBDA_TASK_ROOT}", root)
        if not destination.startswith("/"):
            destination = f"{root}/{destination}"
        for source in sources:
            for _, relative in _source_files(source):
                target = posixpath.normpath(f"{destination}/{relative}")
                if target.startswith(f"{root}/"):
                    files.add(target.removeprefix(f"{root}/"))
    return files


def imported_files(*modules: str) -> set[str]:
    """Repository files loaded by importing `modules` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", LIST_MODULES, str(REPO_ROOT), *modules],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {line for line in result.stdout.splitlines() if not line.startswith(".venv/")}


def _repo_python(folder: str) -> set[str]:
    return {
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }


def _left_out(path: str) -> bool:
    return any(path == item or path.startswith(item) for item in LEFT_OUT)


IMAGES = {
    # Dockerfile: (where its code lives, the entry points it must be able to import)
    "lambda.Dockerfile": ("/var/task", ("ingestion.lambda_handlers",)),
    "api.Dockerfile": ("/app", ("api.main", "cli.main")),
}


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_images_leave_out_the_local_tmdb_server_and_the_gemini_standin(dockerfile: str) -> None:
    root, _ = IMAGES[dockerfile]
    files = image_files(dockerfile, root)
    assert "ingestion/lake.py" in files  # the parsing found the code
    assert not [path for path in files if _left_out(path)]
    # ...and only those: every other ingestion module is there.
    assert _repo_python("ingestion") - files == {
        path for path in _repo_python("ingestion") if _left_out(path)
    }


def test_the_lambda_image_has_no_cli_and_the_api_image_all_of_it_but_the_standin() -> None:
    lambda_files = image_files("lambda.Dockerfile", "/var/task")
    assert not [path for path in lambda_files if path.startswith(("cli/", "api/", "ml/"))]
    api_files = image_files("api.Dockerfile", "/app")
    assert _repo_python("cli") - api_files == {"cli/gemini_standin.py"}
    assert _repo_python("api") <= api_files
    assert _repo_python("ml") <= api_files


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_entry_points_import_only_what_their_image_holds(dockerfile: str) -> None:
    root, modules = IMAGES[dockerfile]
    imported = imported_files(*modules)
    assert "warehouse/settings.py" in imported
    assert not [path for path in imported if _left_out(path)], imported
    assert imported <= image_files(dockerfile, root), imported - image_files(dockerfile, root)
