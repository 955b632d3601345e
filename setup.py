"""Build hook: a wheel carries the dbt project, which lives at the repository's root.

dbt's layout (`dbt_project.yml` and `profiles.yml` at the root, models under `dbt_project/`) is
what analysts and dbt's tools expect in a checkout, but package data can only come from inside
a package. `build_py` copies the project into `warehouse/dbt_bundle/` of the build, where
`warehouse.settings.default_dbt_project_dir` finds it when no checkout is around.
Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_FOLDER = "dbt_project"
BUNDLE = Path("warehouse") / "dbt_bundle"


class BuildPyWithDbtProject(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        bundle = Path(self.build_lib) / BUNDLE
        shutil.rmtree(bundle, ignore_errors=True)
        bundle.mkdir(parents=True)
        for name in PROJECT_FILES:
            shutil.copy2(ROOT / name, bundle / name)
        shutil.copytree(
            ROOT / PROJECT_FOLDER,
            bundle / PROJECT_FOLDER,
            ignore=shutil.ignore_patterns("__pycache__", "target", "logs"),
        )


setup(cmdclass={"build_py": BuildPyWithDbtProject})
