"""dbt's unit tests (the `unit_tests:` of the models' yml) pass. The product's builds leave them
out (`PRODUCTION_BUILD`: fixed inputs say the same every day), so this is where they run."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import settings
from warehouse.dbt_runner import run_dbt

ROOT = Path(__file__).resolve().parents[2]


def declared_unit_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "dbt_project" / "models").rglob("*.yml"):
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            names.add(unit_test["name"])
    return names


def test_every_unit_test_passes(warehouse, dbt_artifacts) -> None:
    result = run_dbt(settings(), ["test", "--select", "test_type:unit"])
    outcomes = {
        r.node.name: str(r.status)
        for r in result.result.results
        if r.node.resource_type == "unit_test"
    }
    declared = declared_unit_tests()
    assert len(declared) >= 10
    assert outcomes == dict.fromkeys(declared, "pass")
