"""What a trained model records about itself: `metadata.json` beside the model file.

One typed record for the trainer that writes it, the model card, the CLI summary and the
predictor that read it. The file's keys (and their order) are the fields', unchanged, because
`GET /models/current` serves them and saved models must keep loading; `from_json` accepts files
written before a field existed, and keeps keys it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass
class ModelMetadata:
    version: str
    trained_at: str
    code_revision: str
    dbt_manifest_sha256: str | None
    label: str
    training_rows: int
    test_rows: int
    train_release_dates: list[str]
    test_release_dates: list[str]
    train_positive_rate: float
    # The model's input columns, in the order it was fitted on.
    features: list[str]
    # Inputs the training split gave nothing to learn from: name -> reason (ml.feature_selection).
    dropped_features: dict[str, str]
    vocabulary: dict[str, list[str]]
    # The "typical movie" an explanation compares against: median or most common value per input.
    reference_values: dict[str, Any]
    threshold: float
    # Per model or baseline: roc_auc, pr_auc, brier, log_loss; the mean over the backtest's
    # periods (models trained before the backtest existed: on their one test split).
    metrics: dict[str, dict[str, float]]
    # Deciles of predicted probability against observed rates, over every backtest prediction.
    calibration: list[dict[str, Any]]
    permutation_importance: dict[str, float]
    seed: int
    # The newest release date the model learned from: `/predict` warns well beyond it.
    learned_until: str | None = None
    # `ml.backtest.Backtest.to_json()`: method, periods (each with its metrics) and mean.
    backtest: dict[str, Any] = field(default_factory=dict)
    # How the probabilities were calibrated, in words (for the card).
    calibration_method: str | None = None
    # Keys of a metadata.json this code does not know, written back as they were.
    extra: dict[str, Any] = field(default_factory=dict)

    # Keys a file may lack (written before they existed), with what they then mean.
    _OPTIONAL: ClassVar[dict[str, Callable[[], Any]]] = {
        "dropped_features": dict,
        "dbt_manifest_sha256": lambda: None,
        "learned_until": lambda: None,
        "backtest": dict,
        "calibration_method": lambda: None,
    }

    @property
    def last_learned_release(self) -> str:
        """`learned_until`, or for models saved before it existed their training split's end."""
        return self.learned_until or self.train_release_dates[1]

    def to_json(self) -> dict[str, Any]:
        """The `metadata.json` document."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelMetadata:
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        for name, default in cls._OPTIONAL.items():
            if values.get(name) is None:
                values[name] = default()
        missing = known - set(values)
        if missing:
            raise ValueError(f"model metadata lacks {sorted(missing)}")
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})
