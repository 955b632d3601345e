"""The model card shipped with every model (after Hugging Face's template)."""

from __future__ import annotations

from pathlib import Path

from ml.evaluate import backtest_table, metrics_table, years_losing_to_base_rate
from ml.feature_selection import dropped_features_lines
from ml.feature_spec import FACTORS, FEATURES, factor_columns, factors_used
from ml.metadata import ModelMetadata


def _left_out(metadata: ModelMetadata) -> str:
    lines = dropped_features_lines(metadata)
    if not lines:
        return "None: every feature had something to learn from in the training split."
    return (
        "This model does not use these features (nor does `/predict` explain with them), for "
        "the reason given; decided on its training rows:\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )


def _inputs(metadata: ModelMetadata) -> str:
    """The model's inputs per factor, described from the feature spec."""
    spec = {feature.name: feature for feature in FEATURES}
    lines = []
    for factor, columns in factor_columns(metadata.features).items():
        described = [spec[c] for c in columns if c in spec]
        families = {c.split(":", 1)[0] for c in columns if ":" in c}
        described += [spec[name] for name in sorted(families)]
        counts = {name: sum(c.startswith(f"{name}:") for c in columns) for name in families}
        parts = [
            f"`{f.pattern}` ({f.description}, {counts[f.name]} in this model)"
            if f.name in counts
            else f"`{f.name}` ({f.description})"
            for f in described
        ]
        if parts:
            lines.append(f"- {factor}: " + "; ".join(parts))
    return "\n".join(lines)


def importance_by_factor(metadata: ModelMetadata) -> bool:
    """Whether the permutation importance is per explanation factor (models trained since it
    became so) rather than per input column: factor names and column names never coincide."""
    names = set(metadata.permutation_importance)
    return bool(names) and names <= set(FACTORS)


def _importance(metadata: ModelMetadata) -> str:
    top = list(metadata.permutation_importance.items())[:8]
    important = ", ".join(f"{name} ({value:.3f})" for name, value in top)
    if importance_by_factor(metadata):
        return (
            "Most important factors (drop in test ROC AUC when all of a factor's inputs are "
            f"shuffled together, mean of repeated shuffles): {important}."
        )
    return f"Most important inputs (drop in ROC AUC when shuffled): {important}."


def _held_out(metadata: ModelMetadata) -> str:
    """The section the card leads with: the mean backtest, then each period."""
    mean = metadata.metrics.get("model", {})
    method = metadata.backtest.get("method", "one held-out split")
    lines = [
        f"Each period below was scored by a model trained, exactly as this one, on the releases "
        f"before it only ({method}); that is how `/predict` is used. Mean over the periods: "
        f"**ROC AUC {mean.get('roc_auc', float('nan')):.3f}, Brier "
        f"{mean.get('brier', float('nan')):.4f}**.",
        "",
        *metrics_table(metadata),
    ]
    table = backtest_table(metadata)
    if table:
        lines += ["", "Each period:", "", *table]
    losing = years_losing_to_base_rate(metadata)
    if losing:
        lines += [
            "",
            "Periods where the model's probabilities did not beat the base rate (Brier), with "
            "the shift in success rate that explains it:",
            "",
            *(f"- {line}" for line in losing),
        ]
    elif table:
        lines += ["", "The model's Brier beat the base rate's in every period."]
    return "\n".join(lines)


def write_model_card(path: Path, metadata: ModelMetadata) -> None:
    calibration = "\n".join(
        f"| {row['bin']} | {row['count']} | {row['mean_predicted']:.3f} | "
        f"{row['observed_rate']:.3f} |"
        for row in metadata.calibration
    )
    factors = ", ".join(factors_used(metadata.features))
    left_out = _left_out(metadata)
    no_budget_baseline = (
        ""
        if "log_budget_usd" in metadata.features
        else "\nNo budget-only baseline: the budget was left out (see Features left out).\n"
    )
    text = f"""# Commercial success classifier — {metadata.version}

Predicts, **before release**, the probability that a movie earns at least twice its budget
worldwide (`is_commercial_success`, defined only when budget and revenue are reliable).

## Held-out performance: walk-forward backtest
{_held_out(metadata)}
{no_budget_baseline}
## Intended use
Ranking and screening film projects and releases in this product's catalogue: `/predict`,
`marts.movie_success_predictions`, and analysts comparing projects.

## Out-of-scope use
Investment or green-light decisions on their own; movies unlike the catalogue (e.g. TV, shorts);
anything after release (use actual revenue instead). Probabilities are calibrated on the
catalogue's base rate ({metadata.train_positive_rate:.1%} successes in training).

## Data
`marts.ml_movie_features` (dbt manifest `{metadata.dbt_manifest_sha256}`), labelled movies
only. Trained on all {metadata.training_rows} labelled releases from
{metadata.train_release_dates[0]} to {metadata.train_release_dates[1]}: **learned until
{metadata.last_learned_release}**; `/predict` warns about release dates more than a year past
it, beyond what the backtest measured. Calibration: {metadata.calibration_method or "sigmoid"}.
Pre-release features only: {factors} (track records from earlier films only). Never
popularity, votes or revenue.

### Features left out
{left_out}

### Inputs, by the factor explanations name
{_inputs(metadata)}

## Calibration and importance
Calibration over every backtest prediction {metadata.test_rows} releases from
{metadata.test_release_dates[0]} to {metadata.test_release_dates[1]}, deciles of predicted
probability:

| bin | movies | mean predicted | observed |
| --- | --- | --- | --- |
{calibration}

{_importance(metadata)}

## Limitations and risks
- Money figures on TMDB are community-entered and missing for many movies; the label exists
  only where both are reliable, so the model learns from better-documented (often bigger,
  English-language) films.
- Track records favour established people; debuts get no credit for talent the data cannot see.
- Revenue is not adjusted for inflation, marketing spend or streaming deals.
- With the local TMDB server the catalogue is synthetic: figures describe that catalogue only.

Threshold for `predicted_success`: {metadata.threshold}. Code revision
`{metadata.code_revision}`, trained at {metadata.trained_at}, seed {metadata.seed}.
"""
    path.write_text(text)
