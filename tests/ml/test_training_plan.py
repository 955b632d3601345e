"""How training spends its time: a deliberate thread count, a calibration that only feeds the
sigmoid (the trees and their ROC AUC stay what they were), permutation importance per
explanation factor, a progress line per step, and the saved model's shape unchanged."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_info

from ml import artifacts
from ml.feature_spec import FACTORS, LABEL, RAW_COLUMNS, factors_used
from ml.features import Vocabulary, model_inputs
from ml.train import DEFAULT_PLAN, TrainingPlan, factor_importance, train
from tests.conftest import settings

# Six steps, and one per backtest year.
STEPS = 6 + DEFAULT_PLAN.backtest_years
NUMBERS = range(1, STEPS + 1)

# What training did before its work was cut: five shuffled folds, every column alone, every core.
PREVIOUS = TrainingPlan(calibration="folds", calibration_folds=5, importance="column", threads=None)


def _rows(movies: int = 400, seed: int = 3) -> pd.DataFrame:
    """`ml_movie_features` rows with every factor present (genre and company families too)."""
    rng = random.Random(seed)
    rows = []
    for i in range(movies):
        when = date(1995, 1, 1) + timedelta(days=7 * i)
        budget = int(10 ** rng.uniform(6, 8.3))
        genres = rng.sample(["Action", "Drama", "Comedy", "Horror"], rng.randint(1, 2))
        companies = rng.sample(["Big", "Indie", "Studio", "Other"], rng.randint(0, 2))
        skill = rng.gauss(0, 1)
        odds = 0.8 * skill + 0.5 * ("Horror" in genres) - 0.4 * math.log10(budget / 1e7)
        rows.append(
            {
                "movie_id": i + 1, "release_date": when, "release_year": when.year,
                "release_month": when.month, "release_quarter": (when.month - 1) // 3 + 1,
                "release_day_of_week": when.isoweekday(),
                "release_season": rng.choice(["winter", "spring", "summer", "autumn"]),
                "budget_usd": budget, "runtime_minutes": rng.randint(80, 150),
                "original_language": rng.choice(["en", "en", "fr", "ja"]),
                "us_certification": rng.choice(["PG", "PG-13", "R", None]),
                "genre_names": genres, "genre_count": len(genres), "primary_genre": genres[0],
                "is_in_collection": rng.random() < 0.3, "production_company_names": companies,
                "production_company_count": len(companies), "keyword_count": rng.randint(0, 20),
                "director_prior_film_count": rng.randint(0, 6),
                "director_prior_success_rate": min(max(0.5 + 0.2 * skill, 0.0), 1.0),
                "director_prior_median_revenue_usd": budget * 2.0**skill,
                "top_cast_count": rng.randint(1, 5),
                "cast_prior_film_count": rng.randint(0, 30),
                "cast_prior_success_rate": rng.random(),
                "cast_prior_median_revenue_usd": 10 ** rng.uniform(6, 8),
                LABEL: rng.random() < 1 / (1 + math.exp(-odds)),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=[*RAW_COLUMNS, LABEL])


@pytest.fixture
def rows(monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """Training reads these instead of the warehouse."""
    frame = _rows()
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: frame)
    return frame


def _openmp_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}


@pytest.mark.parametrize("threads", [1, 2])
def test_the_boosting_fits_and_predicts_on_the_planned_threads(
    rows, tmp_path, monkeypatch, threads
) -> None:
    seen: list[tuple[str, set[int]]] = []
    for method in ("fit", "decision_function"):
        original = getattr(HistGradientBoostingClassifier, method)

        def spy(self, *args, _original=original, _method=method, **kwargs):
            seen.append((_method, _openmp_threads()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(HistGradientBoostingClassifier, method, spy)
    before = _openmp_threads()
    model = train(None, tmp_path, version="threads", plan=replace(DEFAULT_PLAN, threads=threads))
    assert _openmp_threads(), "the check needs an OpenMP runtime to look at"
    # Per model (the promoted one and one per backtest year): trees on the older rows for the
    # calibration, and the refit on all; then every prediction: calibration, scores, importance.
    periods = model.metadata.backtest["periods"]
    assert len(periods) == DEFAULT_PLAN.backtest_years
    assert [m for m, _ in seen].count("fit") == 2 * (1 + len(periods))
    assert [m for m, _ in seen].count("decision_function") > 10
    assert {frozenset(t) for _, t in seen} == {frozenset({threads})}
    assert _openmp_threads() == before  # the limit ends with training


def test_the_calibration_keeps_the_trees_and_their_roc_auc(rows, tmp_path) -> None:
    now = train(None, tmp_path / "now", version="now")
    previous = train(None, tmp_path / "previous", version="previous", plan=PREVIOUS)
    for name in ("roc_auc", "pr_auc"):  # the calibration is monotonic: ranks are the model's
        assert now.metadata.metrics["model"][name] == previous.metadata.metrics["model"][name]
    vocabulary = Vocabulary.from_dict(now.metadata.vocabulary)
    inputs = model_inputs(rows[RAW_COLUMNS], vocabulary)[now.metadata.features]
    x = now.model.calibrated_classifiers_[0].estimator[:-1].transform(inputs)
    trees = [m.model.calibrated_classifiers_[0].estimator[-1] for m in (now, previous)]
    np.testing.assert_array_equal(trees[0].decision_function(x), trees[1].decision_function(x))
    # the baselines and the split do not depend on the plan either
    assert now.metadata.metrics["base rate"] == previous.metadata.metrics["base rate"]
    assert now.metadata.test_release_dates == previous.metadata.test_release_dates
    # the previous plan's importance is per column, and its card says so
    assert set(previous.metadata.permutation_importance) == set(previous.metadata.features)
    card = (previous.path / artifacts.CARD_FILE).read_text()
    assert "Most important inputs (drop in ROC AUC when shuffled)" in card


def test_importance_is_per_factor_seeded_and_on_the_card(rows, tmp_path) -> None:
    first = train(None, tmp_path / "a", version="a")
    again = train(None, tmp_path / "b", version="b")
    importance = first.metadata.permutation_importance
    assert list(importance) != [] and set(importance) == set(factors_used(first.metadata.features))
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    assert importance == again.metadata.permutation_importance
    card = (first.path / artifacts.CARD_FILE).read_text()
    assert "Most important factors (drop in test ROC AUC when all of a factor's inputs" in card
    assert next(iter(importance)) in card.split("Most important factors", 1)[1]
    # the card still reports the split, the baselines and the calibration
    assert "budget-only logistic regression" in card and "base rate" in card
    assert "| bin | movies | mean predicted | observed |" in card
    assert f"every backtest prediction {first.metadata.test_rows} releases" in card


class _RecordingModel:
    """A stand-in model: the probability is one column; it keeps every frame it is given."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.frames: list[pd.DataFrame] = []

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        self.frames.append(x)
        p = x[self.column].to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


def test_a_factor_is_shuffled_as_one_and_only_what_the_model_uses_counts() -> None:
    n = 200
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, n)
    x = pd.DataFrame(
        {
            "runtime_minutes": np.where(y == 1, 0.8, 0.2) + rng.uniform(-0.1, 0.1, n),
            "release_year": np.arange(n, dtype=float),
            # two columns of one factor, tied row by row: a shared shuffle keeps them tied
            "release_month": np.arange(n, dtype=float) * 10,
            "genre:Drama": rng.randint(0, 2, n).astype(float),
            "primary_genre": rng.choice(["Drama", "Comedy"], n),
        }
    )
    model = _RecordingModel("runtime_minutes")
    importance = factor_importance(model, x, y, repeats=3, seed=0)
    assert set(importance.index) == {"runtime", "release timing", "genres"}
    assert importance["runtime"] > 0.3
    assert importance["release timing"] == 0.0 and importance["genres"] == 0.0
    shuffled = [f for f in model.frames[1:] if not f["release_year"].equals(x["release_year"])]
    assert len(shuffled) == 3
    for frame in shuffled:
        np.testing.assert_array_equal(frame["release_month"], frame["release_year"] * 10)
        assert frame["primary_genre"].dtype == x["primary_genre"].dtype
    assert importance.equals(factor_importance(_RecordingModel("runtime_minutes"), x, y,
                                               repeats=3, seed=0))  # fmt: skip
    assert set(importance.index) <= set(FACTORS)


def test_a_progress_line_per_step(rows, tmp_path, caplog) -> None:
    lines: list[str] = []
    train(None, tmp_path / "a", version="progress", progress=lines.append)
    steps = lines[:-1]
    assert [line.split(" ", 1)[0] for line in steps] == [f"[{i}/{STEPS}]" for i in NUMBERS]
    needles = ("loading rows", "fitting the model on all", "walk-forward backtest",
               "importance per factor", "saving", "model card")  # fmt: skip
    for needle in needles:
        assert any(needle in line for line in steps), needle
    assert "1 thread" in steps[1]
    years = [line for line in steps if line.split(" ", 2)[1] == "backtest"]
    assert len(years) == DEFAULT_PLAN.backtest_years
    assert lines[-1].startswith("trained model progress in ") and lines[-1].endswith(" s")

    # Without a callback the same lines go to the log.
    with caplog.at_level(logging.INFO, logger="ml.train"):
        train(None, tmp_path / "b", version="logged")
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    assert [line.split(" ", 1)[0] for line in logged] == [f"[{i}/{STEPS}]" for i in NUMBERS]


def test_tmdb_train_shows_the_steps_on_stderr(rows, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    class NoConnection:
        def close(self) -> None:
            pass

    monkeypatch.setattr("ml.pipeline.bootstrap", lambda settings: "unused")
    monkeypatch.setattr("ml.pipeline.connect", lambda url: NoConnection())
    monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    settings()
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split(" ", 1)[0] for line in progress] == [f"[{i}/{STEPS}]" for i in NUMBERS]
    assert "trained model" in result.stderr
    assert f"[1/{STEPS}]" not in result.stdout
    assert "written to" in result.stdout and "| model |" in result.stdout
    # the walk-forward table: a row per backtest year, then the mean
    assert "| period | movies | success rate |" in result.stdout
    assert "| **mean** |" in result.stdout and "learned until " in result.stdout


def test_the_saved_model_keeps_the_shape_fast_prediction_relies_on(warehouse) -> None:
    model = warehouse.model.model  # loaded back from disk
    assert isinstance(model, CalibratedClassifierCV)
    assert model.method == "sigmoid"
    (calibrated,) = model.calibrated_classifiers_
    assert type(calibrated.calibrators[0]).__name__ == "_SigmoidCalibration"
    assert len(calibrated.calibrators) == 1
    pipeline = calibrated.estimator
    assert isinstance(pipeline, Pipeline) and list(pipeline.named_steps) == ["encode", "model"]
    assert isinstance(pipeline.named_steps["encode"], ColumnTransformer)
    boosted = pipeline.named_steps["model"]
    assert isinstance(boosted, HistGradientBoostingClassifier)
    assert boosted.n_iter_ == DEFAULT_PLAN.rounds
    assert set(warehouse.model.metadata.permutation_importance) <= set(FACTORS)
