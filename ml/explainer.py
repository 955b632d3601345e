"""A probability and its top factors in one vectorised pass over numpy arrays.

An explanation asks the model about each movie as it is and once more per factor, with that
factor set to the typical (training median or mode) value: 1 + F predictions per movie. Done
on pandas frames through the fitted pipeline, each call pays for column checks, the encoder's
frame handling and OpenMP start-up more than for the trees, which made `/predict` slow.

`Explainer` takes the fitted pieces of `ml.train.build_model` apart once, at load time: the
ordinal encoder becomes one dict per categorical column (built by asking the encoder itself, so
the codes are its codes, infrequent categories included), the reference row is encoded once,
and the 1 + F variants of every movie are one numpy matrix given to the boosted trees, then to
the sigmoid calibrator. These are the same operations `predict_proba` performs, in the same
order, so the probabilities are the same numbers (tested against the pipeline over 200 movies).

A model of any other shape gets `None` from `Explainer.of`, and the predictor uses the
pipeline's own `predict_proba` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Predictions run on one OpenMP thread. For a request's few rows, starting a team costs more
# than the trees (13 rows: 2.9 ms on one thread, 3.4 ms on two), the API already runs requests
# on several threads, and on a busy machine OpenMP's spinning threads made a 13,000-row batch
# take 2.3 s instead of about 0.1 s. Scoring the whole catalogue gives up at most half its
# speed on an idle machine for that.
PREDICT_THREADS = 1


@dataclass(frozen=True)
class _Categorical:
    position: int
    codes: dict[Any, float]


class Explainer:
    """The calibrated boosted pipeline of `ml.train.build_model`, as arrays."""

    def __init__(self, model: Any, features: Sequence[str], reference: Mapping[str, Any]):
        calibrated = model.calibrated_classifiers_[0]
        self._calibrator = calibrated.calibrators[0]
        encode = calibrated.estimator.named_steps["encode"]
        self._trees = calibrated.estimator.named_steps["model"]
        self.features = list(features)
        order = list(encode.get_feature_names_out())
        self._position = {name: order.index(name) for name in self.features}
        self._width = len(order)
        self._categorical: dict[str, _Categorical] = {}
        for name, transformer, columns in encode.transformers_:
            if name == "categorical":
                for column, categories in zip(columns, transformer.categories_, strict=True):
                    self._categorical[column] = _Categorical(
                        self._position[column], _codes(encode, column, list(categories))
                    )
        self._numeric = [c for c in self.features if c not in self._categorical]
        self._numeric_positions = np.array([self._position[c] for c in self._numeric], dtype=int)
        self._reference = self.encode({c: [reference.get(c)] for c in self.features})[0]
        self._controller = None

    @classmethod
    def of(
        cls, model: Any, features: Sequence[str], reference: Mapping[str, Any]
    ) -> Explainer | None:
        """The explainer for a model made by `build_model`; None for any other shape."""
        try:
            calibrated = model.calibrated_classifiers_
            steps = calibrated[0].estimator.named_steps
            shape_ok = (
                len(calibrated) == 1
                and len(calibrated[0].calibrators) == 1
                and type(calibrated[0].calibrators[0]).__name__ == "_SigmoidCalibration"
                and set(steps) == {"encode", "model"}
                and {name for name, _, _ in steps["encode"].transformers_} <= {
                    "categorical", "numeric", "remainder"
                }
            )  # fmt: skip
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return cls(model, features, reference) if shape_ok else None

    def encode(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Model-input columns (as `ml.features.model_inputs` makes them) → the encoder's
        output matrix: categorical codes (-1 for a value training never saw), numbers passed
        through."""
        n = len(next(iter(columns.values())))
        matrix = np.empty((n, self._width), dtype=float)
        for column, categorical in self._categorical.items():
            codes = categorical.codes
            matrix[:, categorical.position] = [codes.get(value, -1.0) for value in columns[column]]
        if self._numeric:
            numeric = np.column_stack([np.asarray(columns[c], dtype=float) for c in self._numeric])
            matrix[:, self._numeric_positions] = numeric
        return matrix

    def probabilities(self, encoded: np.ndarray) -> np.ndarray:
        """Calibrated success probabilities for encoded rows."""
        with self._threads():
            decision = self._trees.decision_function(encoded)
        return np.asarray(self._calibrator.predict(decision), dtype=float)

    def effects(
        self, encoded: np.ndarray, groups: Mapping[str, Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability per row, effect per row and factor): how much each factor moves the
        probability compared with the same movie having the typical value there."""
        n = len(encoded)
        stacked = np.tile(encoded, (len(groups) + 1, 1))
        for block, columns in enumerate(groups.values(), start=1):
            positions = [self._position[c] for c in columns]
            stacked[block * n : (block + 1) * n, positions] = self._reference[positions]
        probability = self.probabilities(stacked).reshape(len(groups) + 1, n)
        return probability[0], probability[0] - probability[1:]

    def _threads(self):
        """OpenMP limited to `PREDICT_THREADS` for this call, on this thread only (OpenMP's
        thread count is per calling thread, so concurrent requests do not disturb each other)."""
        if self._controller is None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        return self._controller.limit(limits=PREDICT_THREADS, user_api="openmp")


def _codes(encode: Any, column: str, categories: list[Any]) -> dict[Any, float]:
    """Each known category's code, as the fitted encoder itself gives it: an infrequent
    category shares the infrequent code, and None (no value, as `model_inputs` writes it) is a
    category of its own when training saw it. NaN, never produced by `model_inputs`, is left
    to the unknown code -1, which is also what the encoder gives it."""
    known = [c for c in categories if not (isinstance(c, float) and np.isnan(c))]
    if not known:
        return {}
    frame = pd.DataFrame({name: [None] * len(known) for name in encode.feature_names_in_})
    frame[column] = pd.Series(known, dtype=object)
    for name in encode.feature_names_in_:
        if name != column:
            frame[name] = frame[name].astype(object if _is_categorical(encode, name) else float)
    order = list(encode.get_feature_names_out())
    codes = encode.transform(frame)[:, order.index(column)]
    return dict(zip(known, (float(c) for c in codes), strict=True))


def _is_categorical(encode: Any, column: str) -> bool:
    return any(name == "categorical" and column in cols for name, _, cols in encode.transformers_)
