"""The model card shipped with every model (after Hugging Face's template)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _factors_used(features: list[str]) -> list[str]:
    """The explanation factors (`FACTOR_GROUPS`) that have at least one of the model's inputs."""
    import pandas as pd

    from ml.features import factor_columns

    return [f for f, columns in factor_columns(pd.DataFrame(columns=features)).items() if columns]


def _left_out(metadata: dict[str, Any]) -> str:
    from ml.train import dropped_features_lines

    lines = dropped_features_lines(metadata)
    if not lines:
        return "None: every feature had something to learn from in the training split."
    return (
        "These features gave the training split nothing to learn from, so this model does not "
        "use them (nor does `/predict` explain with them):\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )


def write_model_card(path: Path, metadata: dict[str, Any]) -> None:
    from ml.train import metrics_table

    top = list(metadata["permutation_importance"].items())[:8]
    calibration = "\n".join(
        f"| {row['bin']} | {row['count']} | {row['mean_predicted']:.3f} | "
        f"{row['observed_rate']:.3f} |"
        for row in metadata["calibration"]
    )
    important = ", ".join(f"{name} ({value:.3f})" for name, value in top)
    factors = ", ".join(_factors_used(metadata["features"]))
    left_out = _left_out(metadata)
    no_budget_baseline = (
        ""
        if "log_budget_usd" in metadata["features"]
        else "\nNo budget-only baseline: the budget was left out (see Features left out).\n"
    )
    text = f"""# Commercial success classifier — {metadata["version"]}

Predicts, **before release**, the probability that a movie earns at least twice its budget
worldwide (`is_commercial_success`, defined only when budget and revenue are reliable).

## Intended use
Ranking and screening film projects and releases in this product's catalogue: `/predict`,
`marts.movie_success_predictions`, and analysts comparing projects.

## Out-of-scope use
Investment or green-light decisions on their own; movies unlike the catalogue (e.g. TV, shorts);
anything after release (use actual revenue instead). Probabilities are calibrated on the
catalogue's base rate ({metadata["train_positive_rate"]:.1%} successes in training).

## Data
`marts.ml_movie_features` (dbt manifest `{metadata["dbt_manifest_sha256"]}`), labelled movies
only. Time-based split: trained on {metadata["training_rows"]} releases from
{metadata["train_release_dates"][0]} to {metadata["train_release_dates"][1]}, evaluated on the
newest {metadata["test_rows"]} ({metadata["test_release_dates"][0]} to
{metadata["test_release_dates"][1]}). Pre-release features only: {factors} (track records
from earlier films only). Never popularity, votes or revenue.

### Features left out
{left_out}

## Metrics (test set, newest releases)
{chr(10).join(metrics_table(metadata))}
{no_budget_baseline}
Calibration (deciles of predicted probability):

| bin | movies | mean predicted | observed |
| --- | --- | --- | --- |
{calibration}

Most important inputs (drop in ROC AUC when shuffled): {important}.

## Limitations and risks
- Money figures on TMDB are community-entered and missing for many movies; the label exists
  only where both are reliable, so the model learns from better-documented (often bigger,
  English-language) films.
- Track records favour established people; debuts get no credit for talent the data cannot see.
- Revenue is not adjusted for inflation, marketing spend or streaming deals.
- With the local TMDB server the catalogue is synthetic: figures describe that catalogue only.

Threshold for `predicted_success`: {metadata["threshold"]}. Code revision
`{metadata["code_revision"]}`, trained at {metadata["trained_at"]}, seed {metadata["seed"]}.
"""
    path.write_text(text)
