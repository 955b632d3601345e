from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import StateDep
from ml.artifacts import CARD_FILE

router = APIRouter(prefix="/models", tags=["models"])

CARD_KEYS = (
    "version", "trained_at", "code_revision", "label", "features", "metrics", "calibration",
    "threshold", "training_rows", "test_rows", "train_release_dates", "test_release_dates",
    "dbt_manifest_sha256", "permutation_importance", "learned_until", "backtest",
    "calibration_method",
)  # fmt: skip


@router.get("/current")
def current_model(state: StateDep) -> dict[str, Any]:
    """The model card of the model being served: version, features, metrics, data snapshot
    (503 `model_unavailable` until a model is trained)."""
    predictor = state.models.get()
    card = {key: predictor.metadata.get(key) for key in CARD_KEYS}
    card["learned_until"] = str(predictor.learned_until)  # older models: their split's end
    card["data_snapshot"] = {
        "training_rows": predictor.metadata.get("training_rows"),
        "test_rows": predictor.metadata.get("test_rows"),
        "train_release_dates": predictor.metadata.get("train_release_dates"),
        "test_release_dates": predictor.metadata.get("test_release_dates"),
        "dbt_manifest_sha256": predictor.metadata.get("dbt_manifest_sha256"),
        "learned_until": card["learned_until"],
    }
    card_file = predictor.loaded.path / CARD_FILE
    card["model_card_markdown"] = card_file.read_text() if card_file.exists() else None
    return card
