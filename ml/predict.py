"""Scoring: every movie in the warehouse (`tmdb score`), and single movies or pre-release
descriptions with the factors behind each probability (`/predict`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extras import Json, execute_values

from ml.artifacts import LoadedModel
from ml.explainer import Explainer
from ml.feature_spec import RAW_COLUMNS, factor_columns
from ml.feature_sql import DescriptionRules
from ml.features import (
    FEATURES_DIGEST,
    MovieDescription,
    Vocabulary,
    input_columns,
    load_feature_rows,
    model_inputs,
    raw_columns_for_descriptions,
    stream_unscored_rows,
)

logger = logging.getLogger(__name__)

TOP_FACTORS = 5
SCORE_CHUNK = 5_000  # movies explained per pass: 1 + F variants each, about 30 MB
# How far past the newest release a model learned from its answers are what the backtest
# measured: each backtest year is scored by a model trained up to the year before it.
STALE_AFTER = timedelta(days=365)


@dataclass
class Prediction:
    success_probability: float
    predicted_success: bool
    threshold: float
    model_version: str
    top_factors: list[dict[str, Any]]
    movie_id: int | None = None
    # Caveats the caller should read with the probability (e.g. a release far past what the
    # model learned from); empty when there are none.
    warnings: list[str] = field(default_factory=list)


# Feature rows: a frame of `ml_movie_features` columns, or the same columns as sequences.
RawRows = pd.DataFrame | Mapping[str, Sequence[Any]]


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
        self.groups = {k: v for k, v in factor_columns(self.features).items() if v}
        self.explainer = Explainer.of(self.model, self.features, self.reference)
        self.learned_until = date.fromisoformat(loaded.metadata.last_learned_release[:10])

    def staleness_warning(self, release_date: Any) -> str | None:
        """A warning when `release_date` is more than `STALE_AFTER` past the newest release
        the model learned from: further ahead than its backtest measured."""
        when = _as_date(release_date)
        if when is None or when - self.learned_until <= STALE_AFTER:
            return None
        return (
            f"release date {when} is {(when - self.learned_until).days} days after the newest "
            f"release this model learned from ({self.learned_until}); its backtest measured "
            f"predictions up to a year ahead, so this one is less certain than its probability "
            f"says: retrain (`tmdb train`) when newer releases are labelled"
        )

    def inputs(self, raw: pd.DataFrame) -> pd.DataFrame:
        return model_inputs(raw[RAW_COLUMNS], self.vocabulary)[self.features]

    def _columns(self, raw: RawRows) -> dict[str, Any]:
        return input_columns({c: raw[c] for c in RAW_COLUMNS}, self.vocabulary)

    def probabilities(self, raw: RawRows) -> np.ndarray:
        if len(raw["movie_id"]) == 0:
            return np.empty(0)
        if self.explainer is not None:
            return self.explainer.probabilities(self.explainer.encode(self._columns(raw)))
        return self.model.predict_proba(self._frame(self._columns(raw)))[:, 1]

    def explain(self, raw: RawRows) -> list[Prediction]:
        """Probabilities with their top factors: how much each factor moves the probability
        compared with the same movie having the typical (training median/mode) value there.
        `raw` is feature rows as a frame, or as columns of values (no pandas on that path)."""
        movie_ids = [_movie_id(value) for value in raw["movie_id"]]
        if not movie_ids:
            return []
        release_dates = list(raw["release_date"])
        columns = self._columns(raw)
        if self.explainer is not None:
            base, effects = self.explainer.effects(self.explainer.encode(columns), self.groups)
        else:
            base, effects = self._pipeline_effects(self._frame(columns))
        factors = list(self.groups)
        predictions = []
        for row, movie_id in enumerate(movie_ids):
            ranked = sorted(
                (
                    {"feature": factor, "effect": round(float(effects[i, row]), 4)}
                    for i, factor in enumerate(factors)
                ),
                key=lambda item: abs(item["effect"]),
                reverse=True,
            )
            predictions.append(
                self._prediction(float(base[row]), ranked, movie_id, release_dates[row])
            )
        return predictions

    def _frame(self, columns: dict[str, Any]) -> pd.DataFrame:
        return pd.DataFrame({c: columns[c] for c in self.features})

    def _prediction(
        self,
        probability: float,
        top_factors: list[dict[str, Any]],
        movie_id: int | None,
        release_date: Any = None,
    ) -> Prediction:
        # rounded once, here: the probability shown and the decision taken agree, and a stored
        # score reads back as the same answer
        probability = round(probability, 6)
        return Prediction(
            success_probability=probability,
            predicted_success=probability >= self.threshold,
            threshold=self.threshold,
            model_version=self.version,
            top_factors=top_factors[:TOP_FACTORS],
            movie_id=movie_id,
            warnings=[w for w in (self.staleness_warning(release_date),) if w],
        )

    def _pipeline_effects(self, inputs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The same explanation through the fitted pipeline's own `predict_proba`: for a model
        `Explainer` does not know, and the reference the fast path is tested against."""
        n = len(inputs)
        stacked = pd.concat([inputs] * (len(self.groups) + 1), ignore_index=True)
        for block, columns in enumerate(self.groups.values(), start=1):
            for column in columns:
                stacked.iloc[block * n : (block + 1) * n, stacked.columns.get_loc(column)] = (
                    self.reference.get(column)
                )
        probability = self.model.predict_proba(stacked)[:, 1].reshape(len(self.groups) + 1, n)
        return probability[0], probability[0] - probability[1:]

    def predict_movies(self, conn, movie_ids: Sequence[int]) -> list[Prediction]:
        """Catalogued movies: the prediction `tmdb score` stored for this model version when
        there is one (a lookup), computed from the movie's features otherwise."""
        stored = self.stored(conn, movie_ids)
        wanted = [movie_id for movie_id in dict.fromkeys(movie_ids) if movie_id not in stored]
        if wanted:
            rows = load_feature_rows(conn, wanted)
            missing = set(wanted) - set(rows["movie_id"])
            if missing:
                raise UnknownMovie(f"unknown movie_id: {sorted(missing)[:5]}")
            stored.update({p.movie_id: p for p in self.explain(rows)})
        return [stored[movie_id] for movie_id in movie_ids]

    def stored(self, conn, movie_ids: Sequence[int]) -> dict[int, Prediction]:
        """The predictions scored with this model version, by movie id (with their factors),
        for the movies whose features are still those they were scored from (a daily build
        that changed a movie's features makes its stored score stale until `tmdb score`)."""
        with conn.cursor() as cur:
            cur.execute(
                "select scores.movie_id, scores.success_probability, scores.top_factors,"
                " ml_movie_features.release_date"
                " from marts.movie_success_predictions as scores"
                " inner join marts.ml_movie_features using (movie_id)"
                " where scores.model_version = %s and scores.movie_id = any(%s)"
                " and scores.top_factors is not null"
                f" and scores.features_digest = {FEATURES_DIGEST}",
                (self.version, list(movie_ids)),
            )
            rows = cur.fetchall()
        return {
            int(movie_id): self._prediction(
                float(probability), factors, int(movie_id), release_date
            )
            for movie_id, probability, factors, release_date in rows
        }

    def predict_descriptions(
        self, conn, descriptions: Sequence[MovieDescription], rules: DescriptionRules
    ) -> list[Prediction]:
        return self.explain(raw_columns_for_descriptions(conn, descriptions, rules))


def _as_date(value: Any) -> date | None:
    """A release date from a frame or a description (a date, a timestamp, or missing)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _movie_id(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def score_all(
    conn, predictor: Predictor, chunk: int = SCORE_CHUNK, *, schema: str = "marts"
) -> int:
    """Give every movie a probability and its top factors from this model version in
    `ml.movie_success_scores`; returns how many movies hold one.

    The factors are stored beside the probability so that `/predict` for a catalogued movie
    is a lookup of what was computed here, not a fresh explanation per request. A stored score
    whose features row is unchanged (same digest, same model version) is the answer already:
    after a daily increment only the changed and new movies are explained, and the feature rows
    are read a chunk at a time, so the whole catalogue never sits in memory at once. `schema`
    is where the features are (`tmdb refresh` scores the shadow marts before it swaps them in)."""
    scored_at = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.execute(
            "delete from ml.movie_success_scores as scores where model_version = %s and not"
            f" exists (select 1 from {schema}.ml_movie_features where ml_movie_features.movie_id"
            f" = scores.movie_id and {FEATURES_DIGEST} = scores.features_digest)",
            (predictor.version,),
        )
        stale = cur.rowcount
    explained = 0
    with conn.cursor() as cur:
        for rows in stream_unscored_rows(conn, predictor.version, chunk, schema=schema):
            predictions = predictor.explain(rows)
            execute_values(
                cur,
                "insert into ml.movie_success_scores (movie_id, model_version,"
                " success_probability, predicted_success, scored_at, top_factors,"
                " features_digest) values %s",
                [
                    (*_score_row(p, scored_at), digest)
                    for p, digest in zip(predictions, rows["features_digest"], strict=True)
                ],
                page_size=1000,
            )
            explained += len(rows)
            logger.info("scored %d movies", explained)
        cur.execute(
            "select count(*) from ml.movie_success_scores where model_version = %s",
            (predictor.version,),
        )
        total = cur.fetchone()[0]
    conn.commit()
    logger.info(
        "model %s: %d movies explained (%d stale scores replaced), %d hold a score",
        predictor.version, explained, stale, total,
    )  # fmt: skip
    return total


def _score_row(p: Prediction, scored_at: datetime) -> tuple:
    return (
        p.movie_id, p.model_version, p.success_probability, p.predicted_success, scored_at,
        Json(p.top_factors),
    )  # fmt: skip
