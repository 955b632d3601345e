"""The feature spec (`ml.feature_spec`) and the dbt mart it reads agree; the model's metadata
round-trips; the model card lists what the spec declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml.feature_spec import (
    BOOKKEEPING_COLUMNS,
    CATEGORICAL_INPUTS,
    FACTOR_GROUPS,
    FACTORS,
    FEATURES,
    LABEL,
    RAW_COLUMNS,
)
from ml.metadata import ModelMetadata
from tests.conftest import query

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "dbt_project" / "models" / "marts" / "ml" / "ml_movie_features.yml"


def contract_columns(document: dict) -> list[str]:
    [model] = [m for m in document["models"] if m["name"] == "ml_movie_features"]
    return [column["name"] for column in model["columns"]]


def mismatch(columns: list[str]) -> dict[str, list[str]]:
    """What the spec reads that the mart lacks, and what the mart holds that the spec ignores."""
    wanted = [*RAW_COLUMNS, LABEL, *(c.name for c in BOOKKEEPING_COLUMNS)]
    return {
        "missing from the mart": [c for c in wanted if c not in columns],
        "not in the spec": [c for c in columns if c not in wanted],
    }


def test_the_spec_reads_exactly_the_mart_contract() -> None:
    columns = contract_columns(yaml.safe_load(CONTRACT.read_text()))
    assert len(columns) == len(set(columns))
    assert mismatch(columns) == {"missing from the mart": [], "not in the spec": []}


@pytest.mark.parametrize("column", ["budget_usd", "cast_prior_success_rate", "genre_names"])
def test_renaming_a_mart_column_breaks_the_contract_check(column: str, tmp_path: Path) -> None:
    """The check above is not vacuous: a copy of the contract with one column renamed fails it."""
    renamed = tmp_path / CONTRACT.name
    renamed.write_text(
        CONTRACT.read_text().replace(f"- name: {column}\n", f"- name: {column}_v2\n")
    )
    found = mismatch(contract_columns(yaml.safe_load(renamed.read_text())))
    assert found == {"missing from the mart": [column], "not in the spec": [f"{column}_v2"]}


def test_the_built_mart_has_exactly_the_spec_columns(warehouse) -> None:
    rows = query(
        warehouse.database_url,
        "select column_name from information_schema.columns"
        " where table_schema = 'marts' and table_name = 'ml_movie_features'",
    )
    assert mismatch([row[0] for row in rows]) == {
        "missing from the mart": [],
        "not in the spec": [],
    }


def test_the_digest_is_the_features_row_without_bookkeeping(warehouse) -> None:
    """`features_digest` is the md5 of the row as PostgreSQL renders it, bookkeeping left out:
    the digest a stored score was checked against before the mart carried it, so an upgrade
    keeps every stored score, and a build that computes a row again unchanged keeps its."""
    columns = [
        row[0]
        for row in query(
            warehouse.database_url,
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = 'ml_movie_features' order by ordinal_position",
        )
        if row[0] not in {c.name for c in BOOKKEEPING_COLUMNS}
    ]
    [(rows, matching)] = query(
        warehouse.database_url,
        f"select count(*), count(*) filter (where features_digest = md5(row({', '.join(columns)})"
        "::text)) from marts.ml_movie_features",
    )
    assert rows > 0 and matching == rows


def test_every_list_follows_from_the_spec() -> None:
    assert set(CATEGORICAL_INPUTS) <= set(RAW_COLUMNS)  # read as they are, never derived
    assert list(FACTOR_GROUPS) == list(FACTORS)
    patterns = [p for group in FACTOR_GROUPS.values() for p in group]
    assert sorted(patterns) == sorted(f.pattern for f in FEATURES)
    assert all(f.known_before_release for f in FEATURES)


def test_the_trained_model_uses_the_spec_inputs_in_its_order(warehouse) -> None:
    order = {f.name: i for i, f in enumerate(FEATURES)}
    used = [order[c.split(":", 1)[0]] for c in warehouse.model.metadata.features]
    assert used == sorted(used)


def test_metadata_json_round_trips_unchanged(warehouse) -> None:
    on_disk = json.loads((warehouse.model.path / "metadata.json").read_text())
    again = ModelMetadata.from_json(on_disk).to_json()
    assert again == on_disk and list(again) == list(on_disk)  # same keys, same order


def test_older_metadata_still_loads() -> None:
    """A file written before `dropped_features` existed, with a key this code does not know."""
    document = ModelMetadata(
        version="old", trained_at="2025-01-01T00:00:00+00:00", code_revision="abc",
        dbt_manifest_sha256=None, label="l", training_rows=1, test_rows=1,
        train_release_dates=["2000-01-01", "2001-01-01"],
        test_release_dates=["2001-01-01", "2002-01-01"], train_positive_rate=0.5,
        features=["runtime_minutes"], dropped_features={},
        vocabulary={"genres": [], "companies": []},
        reference_values={}, threshold=0.5, metrics={}, calibration=[], permutation_importance={},
        seed=0,
    ).to_json()  # fmt: skip
    del document["dropped_features"]
    document["notes"] = "kept"
    loaded = ModelMetadata.from_json(document)
    assert loaded.dropped_features == {} and loaded.version == "old"
    assert loaded.to_json()["notes"] == "kept"
    with pytest.raises(ValueError, match="features"):
        ModelMetadata.from_json({k: v for k, v in document.items() if k != "features"})


def test_the_model_card_lists_the_inputs_from_the_spec(warehouse) -> None:
    card = (warehouse.model.path / "model_card.md").read_text()
    inputs = card.split("### Inputs", 1)[1].split("## Metrics", 1)[0]
    for feature in FEATURES:
        used = any(c.split(":", 1)[0] == feature.name for c in warehouse.model.metadata.features)
        assert (feature.description in inputs) == used, feature.name
