"""Training is honest (walk-forward backtest, baselines), good enough, reproducible and fully
documented."""

from __future__ import annotations

import json

import psycopg2
from PIL import Image

from ml import artifacts
from ml.train import train


def test_model_beats_its_baselines_in_the_backtest(warehouse) -> None:
    metadata = warehouse.model.metadata
    model = metadata.metrics["model"]
    budget_only = metadata.metrics["budget-only logistic regression"]
    base_rate = metadata.metrics["base rate"]
    assert model["roc_auc"] >= budget_only["roc_auc"] + 0.05
    assert model["brier"] < base_rate["brier"]
    # The figures are the walk-forward backtest's mean over its years; the promoted model
    # learned from every labelled release, up to the newest.
    periods = metadata.backtest["periods"]
    assert metadata.test_release_dates == [periods[0]["start"], periods[-1]["end"]]
    assert metadata.learned_until == metadata.train_release_dates[1]
    assert metadata.test_rows == sum(p["rows"] for p in periods) < metadata.training_rows


def test_same_data_same_model(warehouse, tmp_path) -> None:
    conn = psycopg2.connect(warehouse.database_url)
    try:
        again = train(conn, tmp_path, version="test-v2")
    finally:
        conn.close()
    assert again.metadata.metrics == warehouse.model.metadata.metrics
    assert again.metadata.calibration == warehouse.model.metadata.calibration


def test_artifacts_and_model_card(warehouse) -> None:
    folder = warehouse.artifacts_dir / "models"
    assert (folder / "current").resolve() == (folder / "test-v1").resolve()
    current = folder / "current"
    metadata = json.loads((current / "metadata.json").read_text())
    for key in (
        "version", "trained_at", "code_revision", "dbt_manifest_sha256", "training_rows",
        "train_release_dates", "test_release_dates", "features", "metrics", "threshold",
    ):  # fmt: skip
        assert metadata.get(key) not in (None, "", []), key
    card = (current / "model_card.md").read_text()
    for heading in ("## Intended use", "## Out-of-scope use", "## Data",
                    "## Held-out performance: walk-forward backtest",
                    "## Limitations and risks"):  # fmt: skip
        assert heading in card
    assert "budget-only logistic regression" in card and "base rate" in card
    for plot in ("roc.png", "calibration.png", "permutation_importance.png"):
        with Image.open(current / plot) as image:
            assert image.format == "PNG" and image.width > 200
    assert (current / artifacts.MODEL_FILE).stat().st_size > 1000
