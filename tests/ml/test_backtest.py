"""The classifier judged as it is used: each backtest year is scored by a model trained on the
years before it only; the promoted model learns from every labelled release and calibrates on
the newest; a model that loses to the budget alone is not promoted; staleness is visible."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import _SigmoidCalibration

from ml import artifacts, backtest, evaluate
from ml.feature_spec import LABEL, RAW_COLUMNS
from ml.features import Vocabulary, model_inputs
from ml.metadata import ModelMetadata
from ml.predict import STALE_AFTER, Predictor
from ml.train import (
    DEFAULT_PLAN,
    NotPromoted,
    boosted_pipeline,
    fit,
    promotion_problem,
    recent_cut,
    train,
)
from tests.ml.test_training_plan import _rows


@pytest.fixture
def rows(monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """About eight years of weekly releases; training reads these instead of the warehouse."""
    frame = _rows()
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: frame)
    return frame


def _year(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["release_date"]).dt.year


def test_each_year_is_scored_by_a_model_of_the_years_before(rows) -> None:
    labelled = backtest.labelled_in_order(rows)
    newest = _year(labelled).max()
    labelled = labelled[_year(labelled) < newest].copy()
    # a newest year of a few films, too few to judge
    labelled = pd.concat([labelled, rows[_year(rows) == newest].head(10)])
    periods = backtest.year_periods(labelled, years=3)
    assert [p.label for p in periods] == [str(y) for y in range(newest - 3, newest)]
    for period in periods:
        year = int(period.label)
        assert set(_year(period.test)) == {year}
        assert _year(period.train).max() == year - 1
        assert len(period.train) == (_year(labelled) < year).sum()

    seen: list[pd.DataFrame] = []

    def fit_and_record(train_rows: pd.DataFrame):
        seen.append(train_rows)
        return fit(train_rows, DEFAULT_PLAN)

    judged = backtest.run(periods, fit_and_record, "walk-forward")
    assert [len(s) for s in seen] == [len(p.train) for p in periods]
    assert len(judged.y) == sum(len(p.test) for p in periods)
    for result, period in zip(judged.periods, periods, strict=True):
        assert result.rows == len(period.test)
        assert set(result.metrics) == {backtest.MODEL, backtest.BUDGET_ONLY, backtest.BASE_RATE}
        # the base rate is the training years' rate, not the scored year's
        y = period.test[LABEL].astype(int).to_numpy()
        expected = np.full(len(y), period.train[LABEL].astype(int).mean())
        assert result.metrics[backtest.BASE_RATE] == evaluate.metrics(y, expected)
    mean = judged.mean()[backtest.MODEL]["roc_auc"]
    assert mean == pytest.approx(np.mean([p.metrics["model"]["roc_auc"] for p in judged.periods]))


def test_years_without_enough_films_or_both_outcomes_are_skipped(rows) -> None:
    labelled = backtest.labelled_in_order(rows).copy()
    years = _year(labelled)
    newest_full = sorted(years.unique())[-2]
    labelled.loc[years == newest_full, LABEL] = True  # one outcome only: nothing to rank
    labels = [p.label for p in backtest.year_periods(labelled, years=2)]
    assert str(newest_full) not in labels and len(labels) == 2


def test_the_promoted_model_learns_from_every_release_and_calibrates_on_the_newest(
    rows, tmp_path
) -> None:
    model = train(None, tmp_path, version="all")
    metadata = model.metadata
    labelled = backtest.labelled_in_order(rows)
    assert metadata.training_rows == len(labelled)
    assert metadata.learned_until == str(labelled["release_date"].max())
    assert metadata.test_rows == sum(p["rows"] for p in metadata.backtest["periods"])
    assert "release_year" not in metadata.features
    assert metadata.dropped_features["release_year"] == "calendar time"

    vocabulary = Vocabulary.from_dict(metadata.vocabulary)
    x = model_inputs(labelled[RAW_COLUMNS], vocabulary)[metadata.features]
    y = labelled[LABEL].astype(int).to_numpy()
    # the trees: refitted on every labelled release
    everything = boosted_pipeline(x).fit(x, y)
    (calibrated,) = model.model.calibrated_classifiers_
    np.testing.assert_allclose(
        calibrated.estimator.decision_function(x), everything.decision_function(x)
    )
    # the sigmoid: fitted on the newest fifth, as scored by trees of the older releases
    cut = recent_cut(y, DEFAULT_PLAN.calibration_share)
    older = boosted_pipeline(x).fit(x.iloc[:cut], y[:cut])
    sigmoid = _SigmoidCalibration().fit(older.decision_function(x.iloc[cut:]), y[cut:])
    assert calibrated.calibrators[0].a_ == pytest.approx(sigmoid.a_)
    assert calibrated.calibrators[0].b_ == pytest.approx(sigmoid.b_)
    newest = labelled["release_date"].iloc[cut:]
    assert f"newest {len(y) - cut:,} training releases ({newest.min()}" in (
        metadata.calibration_method
    )


def test_the_card_leads_with_the_mean_backtest_and_shows_each_year(rows, tmp_path) -> None:
    model = train(None, tmp_path, version="card")
    card = (model.path / artifacts.CARD_FILE).read_text()
    held_out = card.index("## Held-out performance: walk-forward backtest")
    assert held_out < card.index("## Intended use") < card.index("## Data")
    mean = model.metadata.metrics["model"]
    assert f"**ROC AUC {mean['roc_auc']:.3f}, Brier {mean['brier']:.4f}**" in card
    for period in model.metadata.backtest["periods"]:
        assert f"| {period['period']} | {period['rows']:,} |" in card
    assert f"learned until\n{model.metadata.learned_until}" in card
    assert (model.path / "backtest.png").stat().st_size > 1000


def _metadata(model_auc: float, budget_auc: float | None) -> ModelMetadata:
    figures = {"roc_auc": 0.0, "pr_auc": 0.0, "brier": 0.25, "log_loss": 0.69}
    metrics = {"model": {**figures, "roc_auc": model_auc}, "base rate": figures}
    if budget_auc is not None:
        metrics["budget-only logistic regression"] = {**figures, "roc_auc": budget_auc}
    return ModelMetadata(
        version="v", trained_at="t", code_revision="c", dbt_manifest_sha256=None, label="l",
        training_rows=1, test_rows=1, train_release_dates=["a", "b"],
        test_release_dates=["a", "b"], train_positive_rate=0.5, features=[],
        dropped_features={}, vocabulary={"genres": [], "companies": []}, reference_values={},
        threshold=0.5, metrics=metrics, calibration=[], permutation_importance={}, seed=0,
    )  # fmt: skip


def test_a_model_below_the_budget_baseline_is_not_promoted_unless_forced(
    rows, tmp_path, monkeypatch
) -> None:
    assert promotion_problem(_metadata(0.70, 0.65)) is None
    assert promotion_problem(_metadata(0.70, None)) is None  # no budget: nothing to lose to
    problem = promotion_problem(_metadata(0.60, 0.65))
    assert problem == ("mean backtest ROC AUC 0.600 is below the budget-only baseline's 0.650")

    first = train(None, tmp_path, version="first")
    monkeypatch.setattr("ml.train.promotion_problem", lambda metadata: problem)
    with pytest.raises(NotPromoted) as refused:
        train(None, tmp_path, version="worse")
    assert "model worse not promoted: mean backtest ROC AUC 0.600" in str(refused.value)
    assert "--force" in str(refused.value)
    assert artifacts.load_current(tmp_path).version == first.version
    assert (artifacts.models_dir(tmp_path) / "worse" / artifacts.CARD_FILE).exists()
    forced = train(None, tmp_path, version="forced", force=True)
    assert artifacts.load_current(tmp_path).version == forced.version == "forced"


def test_predictions_far_past_what_the_model_learned_warn(rows, tmp_path) -> None:
    predictor = Predictor(train(None, tmp_path, version="stale"))
    learned = date.fromisoformat(predictor.loaded.metadata.learned_until)
    assert predictor.staleness_warning(learned + STALE_AFTER) is None
    assert predictor.staleness_warning(None) is None
    warning = predictor.staleness_warning(pd.Timestamp(learned + STALE_AFTER + timedelta(1)))
    assert warning is not None and f"newest release this model learned from ({learned})" in (
        warning
    )
    frame = rows.head(2).copy()
    frame["release_date"] = [learned + timedelta(30), learned + timedelta(800)]
    near, far = predictor.explain(frame)
    assert near.warnings == [] and len(far.warnings) == 1 and "800 days after" in far.warnings[0]


def test_the_demo_catalogue_backtest_beats_its_baselines(warehouse) -> None:
    """On the drifting 3,000-movie catalogue: the mean backtest ranks better than the budget
    alone, and every year's model, trained on the years before, has a Brier below the base
    rate's."""
    metadata = warehouse.model.metadata
    periods = metadata.backtest["periods"]
    assert len(periods) == DEFAULT_PLAN.backtest_years
    assert [int(p["period"]) for p in periods] == sorted(int(p["period"]) for p in periods)
    mean = metadata.metrics
    assert mean["model"]["roc_auc"] > mean["budget-only logistic regression"]["roc_auc"] + 0.03
    for period in periods:
        figures = period["metrics"]
        assert figures["model"]["brier"] < figures["base rate"]["brier"], periods


def test_tmdb_train_refuses_in_one_line_and_force_promotes(rows, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from tests.conftest import settings

    class NoConnection:
        def close(self) -> None:
            pass

    monkeypatch.setattr("ml.pipeline.bootstrap", lambda settings: "unused")
    monkeypatch.setattr("ml.pipeline.connect", lambda url: NoConnection())
    monkeypatch.setattr("ml.train.promotion_problem", lambda metadata: "worse than the budget")
    monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    settings()
    refused = CliRunner().invoke(app, ["train"])
    assert refused.exit_code == 1, refused.output
    (error,) = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert "not promoted: worse than the budget" in error and "--force" in error
    with pytest.raises(artifacts.ModelUnavailable):
        artifacts.load_current(tmp_path / "artifacts")
    forced = CliRunner().invoke(app, ["train", "--force"])
    assert forced.exit_code == 0, forced.output
    assert artifacts.load_current(tmp_path / "artifacts").version in forced.stdout
