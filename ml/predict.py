"""Scoring: every movie in the warehouse (`tmdb score`), and single movies or pre-release
descriptions with the factors behind each probability (`/predict`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extras import execute_values

from ml.artifacts import LoadedModel
from ml.feature_spec import RAW_COLUMNS, factor_columns
from ml.features import (
    MovieDescription,
    Vocabulary,
    load_feature_rows,
    model_inputs,
    raw_rows_for_descriptions,
)

logger = logging.getLogger(__name__)

TOP_FACTORS = 5


@dataclass
class Prediction:
    success_probability: float
    predicted_success: bool
    threshold: float
    model_version: str
    top_factors: list[dict[str, Any]]
    movie_id: int | None = None


class UnknownMovie(LookupError):
    pass


class Predictor:
    """A loaded model with what it needs to explain itself; cheap to call, safe to share."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        # The metadata.json document, as `GET /models/current` serves it.
        self.metadata: dict[str, Any] = loaded.metadata.to_json()
        self.vocabulary = Vocabulary.from_dict(loaded.metadata.vocabulary)
        self.threshold = float(loaded.metadata.threshold)
        self.version = loaded.version
        self.features = list(loaded.metadata.features)
        self.reference = loaded.metadata.reference_values

    def inputs(self, raw: pd.DataFrame) -> pd.DataFrame:
        return model_inputs(raw[RAW_COLUMNS], self.vocabulary)[self.features]

    def probabilities(self, raw: pd.DataFrame) -> np.ndarray:
        if raw.empty:
            return np.empty(0)
        return self.model.predict_proba(self.inputs(raw))[:, 1]

    def explain(self, raw: pd.DataFrame) -> list[Prediction]:
        """Probabilities with their top factors: how much each factor moves the probability
        compared with the same movie having the typical (training median/mode) value there."""
        inputs = self.inputs(raw)
        groups = {k: v for k, v in factor_columns(inputs).items() if v}
        # Block 0 is the movie as it is; block i has factor i set to the typical value.
        n = len(inputs)
        stacked = pd.concat([inputs] * (len(groups) + 1), ignore_index=True)
        for block, columns in enumerate(groups.values(), start=1):
            for column in columns:
                stacked.iloc[block * n : (block + 1) * n, stacked.columns.get_loc(column)] = (
                    self.reference.get(column)
                )
        probability = self.model.predict_proba(stacked)[:, 1].reshape(len(groups) + 1, n)
        predictions = []
        for row in range(len(inputs)):
            base = float(probability[0, row])
            effects = [
                {"feature": factor, "effect": round(base - float(probability[i + 1, row]), 4)}
                for i, factor in enumerate(groups)
            ]
            effects.sort(key=lambda item: abs(item["effect"]), reverse=True)
            predictions.append(
                Prediction(
                    success_probability=round(base, 6),
                    predicted_success=base >= self.threshold,
                    threshold=self.threshold,
                    model_version=self.version,
                    top_factors=effects[:TOP_FACTORS],
                    movie_id=_movie_id(raw, row),
                )
            )
        return predictions

    def predict_movies(self, conn, movie_ids: Sequence[int]) -> list[Prediction]:
        rows = load_feature_rows(conn, movie_ids)
        missing = set(movie_ids) - set(rows["movie_id"])
        if missing:
            raise UnknownMovie(f"unknown movie_id: {sorted(missing)[:5]}")
        by_id = rows.set_index("movie_id", drop=False).loc[list(movie_ids)]
        return self.explain(by_id.reset_index(drop=True))

    def predict_descriptions(
        self, conn, descriptions: Sequence[MovieDescription], reliable_budget_usd: int
    ) -> list[Prediction]:
        raw = raw_rows_for_descriptions(conn, descriptions, reliable_budget_usd)
        return self.explain(raw)


def _movie_id(raw: pd.DataFrame, row: int) -> int | None:
    value = raw["movie_id"].iloc[row]
    return None if value is None or pd.isna(value) else int(value)


def score_all(conn, predictor: Predictor) -> int:
    """Write a probability for every movie to `ml.movie_success_scores` (replacing this
    model version's earlier scores); returns the number of movies scored."""
    rows = load_feature_rows(conn)
    probability = predictor.probabilities(rows)
    scored_at = datetime.now(UTC)
    values = [
        (int(movie_id), predictor.version, float(p), bool(p >= predictor.threshold), scored_at)
        for movie_id, p in zip(rows["movie_id"], probability, strict=True)
    ]
    with conn.cursor() as cur:
        cur.execute(
            "delete from ml.movie_success_scores where model_version = %s", (predictor.version,)
        )
        execute_values(
            cur,
            "insert into ml.movie_success_scores (movie_id, model_version, success_probability,"
            " predicted_success, scored_at) values %s",
            values,
            page_size=1000,
        )
    conn.commit()
    logger.info("scored %d movies with model %s", len(values), predictor.version)
    return len(values)
