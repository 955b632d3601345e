"""A description is featurised by the dbt project the settings name, not by whichever project
sits beside the code: a deployment that points `DBT_PROJECT_DIR` at its own project (other
thresholds in its vars) gets its mart's rules on the served path too."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ml.feature_sql import MACRO_FILE, description_rules
from tests.conftest import settings
from warehouse.dbt_runner import project_vars


def _project_with(tmp_path: Path, **variables) -> Path:
    """A copy of this dbt project's settings and feature macros, with some vars changed."""
    here = settings().dbt_project_dir
    config = yaml.safe_load((here / "dbt_project.yml").read_text(encoding="utf-8"))
    config["vars"].update(variables)
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / MACRO_FILE).parent.mkdir(parents=True)
    shutil.copy(here / MACRO_FILE, tmp_path / MACRO_FILE)
    return tmp_path


def test_the_rules_come_from_the_project_the_settings_name(tmp_path) -> None:
    default = description_rules(settings())
    other = settings().model_copy(
        update={"dbt_project_dir": _project_with(tmp_path, top_cast_size=1,
                                                 reliable_budget_usd=2_500_000)}
    )  # fmt: skip
    rules = description_rules(other)
    shipped = project_vars(settings())
    assert default.top_cast_size == shipped["top_cast_size"] != 1
    assert shipped["reliable_budget_usd"] != 2_500_000
    assert f">= {shipped['reliable_budget_usd']}" in default.query
    assert rules.top_cast_size == 1
    assert ">= 2500000" in rules.query and ">= 2500000" not in default.query


def test_a_changed_project_is_read_anew(tmp_path) -> None:
    project = _project_with(tmp_path, top_cast_size=2)
    pointed = settings().model_copy(update={"dbt_project_dir": project})
    assert description_rules(pointed).top_cast_size == 2
    config = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8"))
    config["vars"]["top_cast_size"] = 4
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert description_rules(pointed).top_cast_size == 4
