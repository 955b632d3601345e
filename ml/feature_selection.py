"""Which input columns a model can learn from, decided on its training split, and how the ones
it cannot are reported (metadata, model card, `tmdb train`).

A real catalogue may lack whole feature families (no cast, no keywords, one language): a column
the training split gives nothing to learn from is left out of that model and named with its
reason rather than crashing the fit.
"""

from __future__ import annotations

import pandas as pd

from ml.metadata import ModelMetadata

# The gradient-boosted model's smallest leaf: also the fewest known values a column needs.
MIN_LEAF = 20

# Why a feature is left out of a model: reason -> what it means, for the card and the CLI.
DROP_REASONS = {
    "missing": "no known value in the training split",
    "constant": "one value for every movie in the training split",
    "too few known values": f"known for fewer than {MIN_LEAF} training movies, the smallest leaf",
    "calendar time": (
        "a point in time every later movie lies beyond, which trees cannot extrapolate; the "
        "calibration on the newest years carries the base rate's drift instead"
    ),
}


def usable_features(inputs: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Split the training inputs' columns into those the model can learn from and those it
    cannot, with the reason (a key of `DROP_REASONS`); decided on the training split alone.

    Gradient boosting bins each numeric column on its known values: a column with none in a
    fit (all missing in the training split, or in one of the calibration folds) has nothing to
    bin and crashes scikit-learn. A column known for fewer movies than the smallest leaf cannot
    be split on at all (every split needs a leaf of known values), so it goes too, and with it
    the risk of a fold without any. A constant column cannot be split on either; one value
    plus missing ones still can (known versus unknown), so it stays.
    """
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for column in inputs.columns:
        values = inputs[column]
        known = int(values.notna().sum())
        if known == 0:
            dropped[column] = "missing"
        elif values.nunique(dropna=False) == 1:
            dropped[column] = "constant"
        elif known < MIN_LEAF:
            dropped[column] = "too few known values"
        else:
            kept.append(column)
    return kept, dropped


def dropped_features_lines(metadata: ModelMetadata) -> list[str]:
    """The features left out of the model, one line per reason (none when nothing was)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in metadata.dropped_features.items():
        by_reason.setdefault(reason, []).append(name)
    return [
        f"{reason} ({DROP_REASONS.get(reason, reason)}): {', '.join(names)}"
        for reason, names in by_reason.items()
    ]
