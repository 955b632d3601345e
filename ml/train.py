"""Training: judged by a walk-forward backtest, calibrated on the newest years, then refitted
on every labelled release.

The model is asked about movies that come after everything it learned from, so that is how it
is judged (`ml.backtest`): for each of the last K release years, the same procedure trains on
the films before that year and scores that year, beside a budget-only baseline and the base
rate. The promoted model is then trained the same way on every labelled release, so it is as
fresh as the data; its card leads with the backtest's mean. A model whose mean backtest ROC AUC
is below the budget-only baseline's is saved but not promoted (`NotPromoted`) unless forced.
Everything is seeded, so the same data gives the same model and the same metrics.

Probabilities are calibrated on the newest training releases, not random folds: the trees are
fitted on the older releases and a sigmoid on their scores for the newest ones, then the trees
are refitted on all (as `CalibratedClassifierCV(ensemble=False)` refits after its folds). So
the calibration carries the base rate of the years next to the ones asked about, which random
folds average over the whole history. The calendar year itself is not an input: every later
movie falls in the trees' last bin for it, so they would learn the newest years' rate as a
property of the year and extrapolate it flat (`Feature.extrapolates`).

A real catalogue may lack whole feature families (no cast, no keywords, one language). A feature
the training rows give nothing to learn from is left out of that model, named with its reason
in the metadata, the model card and `tmdb train`'s summary; see `ml.feature_selection`.

Training runs on a deliberate number of threads (`TrainingPlan.threads`, set with threadpoolctl
for the boosting's OpenMP and for BLAS): left to themselves, HistGradientBoosting's OpenMP threads
take every core and spin at each of their many short barriers, so beside another busy process on
a two-core machine training ran more than ten times slower (`bench/train_speed.py`).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from ml import artifacts, backtest, evaluate
from ml.feature_selection import MIN_LEAF, usable_features
from ml.feature_spec import (
    CATEGORICAL_INPUTS,
    LABEL,
    NOT_EXTRAPOLATING,
    RAW_COLUMNS,
    factor_columns,
)
from ml.features import Vocabulary, load_feature_rows, model_inputs
from ml.metadata import ModelMetadata
from ml.model_card import write_model_card

logger = logging.getLogger(__name__)

SEED = 0
TEST_SHARE = 0.2
THRESHOLD = 0.5
MIN_LABELLED_ROWS = 60
MIN_FEATURES = 3

# A line of progress per step of `train` ("[3/8] fitting ..."); `tmdb train` prints them.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingPlan:
    """How training is done and judged, and on how many threads; the default is the product's.

    The final model's trees are the same whatever the calibration: it only fits the sigmoid
    that maps their scores to probabilities, then the trees are refitted on all the rows. So
    the calibration changes the probabilities and the ROC AUC not at all.
    """

    # "recent": the sigmoid is fitted on the newest `calibration_share` of the training rows,
    # scored by trees fitted on the older ones; "folds": on out-of-fold scores of
    # `calibration_folds` shuffled folds (the previous way, which averages over all years).
    calibration: Literal["recent", "folds"] = "recent"
    calibration_share: float = 0.2
    calibration_folds: int = 3
    # The walk-forward backtest: the last K release years with enough labelled films.
    backtest_years: int = backtest.BACKTEST_YEARS
    # Ablations (bench/backtest_ablation.py): explanation factors whose inputs are left out,
    # and whether the calendar year is let in.
    without_factors: tuple[str, ...] = ()
    calendar_year: bool = False
    # Boosting rounds of every fit (no early stopping below 10,000 training rows). 75: in the
    # backtest on both synthetic catalogues, better than 120, 250 (the previous) and 400 in
    # mean ROC AUC and Brier, and beating the base rate's Brier every year
    # (bench/backtest_ablation.py, docs/benchmarks.md).
    rounds: int = 75
    # "factor": shuffle all input columns of an explanation factor together (a dozen groups);
    # "column": shuffle every input column alone (sklearn's permutation_importance).
    importance: Literal["factor", "column"] = "factor"
    importance_repeats: int = 5
    # Threads for OpenMP (the boosting) and BLAS while training; None leaves the libraries'
    # default (every core). One thread: at this size a second one gains nothing even on an idle
    # two-core machine, and costs a lot beside another busy process (bench/train_speed.py).
    threads: int | None = 1


DEFAULT_PLAN = TrainingPlan()


class NotEnoughData(RuntimeError):
    pass


class NotPromoted(RuntimeError):
    """The model was saved but `current` still points to the previous one."""


@dataclass
class Split:
    train: pd.DataFrame
    test: pd.DataFrame


def _require_labelled(labelled: pd.DataFrame) -> None:
    if len(labelled) < MIN_LABELLED_ROWS:
        raise NotEnoughData(
            f"only {len(labelled)} movies with a success label and a release date; "
            f"need at least {MIN_LABELLED_ROWS}"
        )
    if labelled[LABEL].nunique() < 2:
        raise NotEnoughData("the labelled movies need successes and failures")


def time_split(rows: pd.DataFrame, test_share: float = TEST_SHARE) -> Split:
    """Labelled, dated rows ordered by release date; the newest `test_share` is the test set
    (the evaluation when no release year has enough labelled films for a backtest)."""
    labelled = backtest.labelled_in_order(rows)
    _require_labelled(labelled)
    cut = round(len(labelled) * (1 - test_share))
    train, test = labelled.iloc[:cut], labelled.iloc[cut:]
    if train[LABEL].nunique() < 2 or test[LABEL].nunique() < 2:
        raise NotEnoughData("the split needs successes and failures on both sides")
    return Split(train=train, test=test)


def _require_enough_features(kept: list[str], dropped: dict[str, str]) -> None:
    if len(kept) >= MIN_FEATURES:
        return
    left_out = ", ".join(f"{name} ({reason})" for name, reason in dropped.items())
    raise NotEnoughData(
        f"only {len(kept)} usable feature(s) in the training data, need at least "
        f"{MIN_FEATURES}; left out: {left_out or 'none'}"
    )


def boosted_pipeline(inputs: pd.DataFrame, plan: TrainingPlan = DEFAULT_PLAN) -> Pipeline:
    """The encoder and the gradient-boosted trees, unfitted (`ml.explainer` takes them apart)."""
    categorical = [c for c in inputs.columns if c in CATEGORICAL_INPUTS]
    numeric = [c for c in inputs.columns if c not in CATEGORICAL_INPUTS]
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                    min_frequency=5,
                ),
                categorical,
            ),
            ("numeric", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    )
    boosted = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=plan.rounds,
        max_leaf_nodes=15,
        min_samples_leaf=MIN_LEAF,
        l2_regularization=1.0,
        categorical_features=[True] * len(categorical) + [False] * len(numeric),
        random_state=SEED,
    )
    return Pipeline([("encode", encode), ("model", boosted)])


def recent_cut(y: np.ndarray, share: float) -> int | None:
    """Where the newest `share` of rows (in release order) begins, or None when either side
    would lack successes or failures (then the folds calibrate instead)."""
    cut = len(y) - max(1, round(len(y) * share))
    if cut < MIN_LEAF or len(set(y[:cut])) < 2 or len(set(y[cut:])) < 2:
        return None
    return cut


def fit_calibrated(
    x: pd.DataFrame, y: np.ndarray, plan: TrainingPlan = DEFAULT_PLAN
) -> tuple[CalibratedClassifierCV, int | None]:
    """The calibrated model fitted on `x` (in release order), and how many of the newest rows
    its sigmoid was fitted on (None: the shuffled folds', when the newest lack a class).

    Either way the result is one calibrated classifier holding one pipeline and one sigmoid,
    the shape `ml.explainer` reads: with "recent", sklearn fits the pipeline on the older rows
    and the sigmoid on its scores for the newest, then the pipeline is swapped for one refitted
    on every row, which is what `ensemble=False` does after its folds."""
    pipeline = boosted_pipeline(x, plan)
    cut = recent_cut(y, plan.calibration_share) if plan.calibration == "recent" else None
    if cut is not None:
        older, newest = np.arange(cut), np.arange(cut, len(y))
        model = CalibratedClassifierCV(
            pipeline, method="sigmoid", cv=[(older, newest)], ensemble=True
        ).fit(x, y)
        model.calibrated_classifiers_[0].estimator = clone(pipeline).fit(x, y)
        return model, len(y) - cut
    model = CalibratedClassifierCV(
        pipeline,
        method="sigmoid",
        cv=StratifiedKFold(plan.calibration_folds, shuffle=True, random_state=SEED),
        # one model calibrated on out-of-fold predictions: one model's cost per prediction
        ensemble=False,
    ).fit(x, y)
    return model, None


def budget_only_baseline() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(random_state=SEED)),
        ]
    )


def _code_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _reference_values(inputs: pd.DataFrame) -> dict[str, Any]:
    """The "typical movie" an explanation compares against: medians and most common values."""
    reference: dict[str, Any] = {}
    for column in inputs.columns:
        series = inputs[column].dropna()
        if column in CATEGORICAL_INPUTS:
            reference[column] = series.mode().iloc[0] if not series.empty else None
        else:
            reference[column] = float(series.median()) if not series.empty else None
    return reference


@contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """OpenMP and BLAS limited to `threads` (None: the libraries' own default)."""
    with threadpool_limits(limits=threads) if threads is not None else nullcontext():
        yield


def factor_importance(model, x: pd.DataFrame, y, *, repeats: int, seed: int = SEED) -> pd.Series:
    """Permutation importance per explanation factor: the mean drop in ROC AUC when all of a
    factor's input columns are shuffled together (one permutation of the rows for all of them,
    so indicator families like `genre:*` move as one), `repeats` times, seeded."""
    rng = np.random.RandomState(seed)
    reference = roc_auc_score(y, model.predict_proba(x)[:, 1])
    drops: dict[str, float] = {}
    for factor, columns in factor_columns(x.columns).items():
        if not columns:
            continue
        scores = []
        for _ in range(repeats):
            order = rng.permutation(len(x))
            shuffled = x.copy()
            for column in columns:
                shuffled[column] = x[column].to_numpy()[order]
            scores.append(roc_auc_score(y, model.predict_proba(shuffled)[:, 1]))
        drops[factor] = float(reference - np.mean(scores))
    return pd.Series(drops, dtype=float)


def column_importance(model, x: pd.DataFrame, y, *, repeats: int, seed: int = SEED) -> pd.Series:
    """Permutation importance per input column (sklearn's; one process, no joblib workers)."""
    importance = permutation_importance(
        model, x, y, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=None
    )
    return pd.Series(importance.importances_mean, index=x.columns)


class _Steps:
    """Numbered progress lines, one as each step starts, to `progress` or the log."""

    def __init__(self, progress: Progress | None, backtest_years: int) -> None:
        # loading, the model, the backtest, importance, saving, plots; plus one per backtest year
        # (fewer when fewer years have enough labelled films)
        self.total = 6 + backtest_years
        self._progress = progress
        self._started = time.perf_counter()
        self._done = 0

    def __call__(self, message: str) -> None:
        self._done += 1
        line = f"[{self._done}/{self.total}] {message}"
        if self._progress is None:
            logger.info("%s", line)
        else:
            self._progress(line)

    def finish(self, message: str) -> None:
        line = f"{message} in {time.perf_counter() - self._started:.1f} s"
        if self._progress is None:
            logger.info("%s", line)
        else:
            self._progress(line)


def _threads_text(threads: int | None) -> str:
    if threads is None:
        return "the libraries' default threads"
    return f"{threads} thread" + ("s" if threads != 1 else "")


@dataclass
class Fitted:
    """Everything fitted on one set of training rows: the model, its baselines, and what
    turns feature rows into its inputs."""

    model: CalibratedClassifierCV
    vocabulary: Vocabulary
    features: list[str]
    dropped: dict[str, str]
    budget_only: Pipeline | None
    base_rate: DummyClassifier
    calibration_rows: int | None
    train: pd.DataFrame

    def inputs(self, rows: pd.DataFrame) -> pd.DataFrame:
        return model_inputs(rows[RAW_COLUMNS], self.vocabulary)[self.features]

    def probabilities(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each compared model's probabilities for `rows`, in `ml.backtest`'s order."""
        x = self.inputs(rows)
        probability = {backtest.MODEL: self.model.predict_proba(x)[:, 1]}
        if self.budget_only is not None:
            probability[backtest.BUDGET_ONLY] = self.budget_only.predict_proba(
                x[["log_budget_usd"]]
            )[:, 1]
        probability[backtest.BASE_RATE] = self.base_rate.predict_proba(x)[:, 1]
        return probability


def fit(train_rows: pd.DataFrame, plan: TrainingPlan = DEFAULT_PLAN) -> Fitted:
    """The model and its baselines fitted on labelled rows in release order: the one procedure
    for each backtest year and for the promoted model."""
    vocabulary = Vocabulary.learn(train_rows)
    x = model_inputs(train_rows[RAW_COLUMNS], vocabulary)
    calendar = {} if plan.calendar_year else dict.fromkeys(NOT_EXTRAPOLATING, "calendar time")
    ablated = {c: "ablation" for f in plan.without_factors for c in factor_columns(x)[f]}
    left_out = {**calendar, **ablated}
    kept, dropped = usable_features(x.drop(columns=[c for c in left_out if c in x.columns]))
    dropped = {**dropped, **{c: why for c, why in left_out.items() if c in x.columns}}
    _require_enough_features(kept, dropped)
    x = x[kept]
    y = train_rows[LABEL].astype(int).to_numpy()
    model, calibration_rows = fit_calibrated(x, y, plan)
    budget_only = None
    if "log_budget_usd" in kept:  # without a usable budget there is no budget-only baseline
        budget_only = budget_only_baseline().fit(x[["log_budget_usd"]], y)
    base_rate = DummyClassifier(strategy="prior").fit(x, y)
    return Fitted(model, vocabulary, kept, dropped, budget_only, base_rate, calibration_rows,
                  train_rows)  # fmt: skip


def _calibration_text(fitted: Fitted, plan: TrainingPlan) -> str:
    if fitted.calibration_rows is None:
        return f"sigmoid on out-of-fold scores of {plan.calibration_folds} shuffled folds"
    newest = fitted.train.iloc[-fitted.calibration_rows :]["release_date"]
    return (
        f"sigmoid on the newest {fitted.calibration_rows:,} training releases "
        f"({newest.min()} to {newest.max()}), scored by trees fitted on the older ones"
    )


def evaluate_out_of_time(
    labelled: pd.DataFrame, plan: TrainingPlan, step: Callable[[str], None] | None = None
) -> backtest.Backtest:
    """The walk-forward backtest over the last `plan.backtest_years` years; when no year has
    enough labelled films, the newest 20% of releases held out once instead."""
    periods = backtest.year_periods(labelled, plan.backtest_years, MIN_LABELLED_ROWS)
    method = f"walk-forward over {len(periods)} release years"
    if not periods:
        split = time_split(labelled)
        periods = [backtest.Period("newest 20%", split.train, split.test)]
        method = "newest 20% of releases, held out once (no year had enough labelled films)"

    def announce(period: backtest.Period) -> None:
        if step is not None:
            step(f"backtest {period.label}: trained on {len(period.train):,} earlier releases, "
                 f"scoring {len(period.test):,}")  # fmt: skip

    return backtest.run(periods, lambda rows: fit(rows, plan), method, announce)


def promotion_problem(metadata: ModelMetadata) -> str | None:
    """Why this model must not replace the current one (None: it may). It must rank next
    year's films better, on the backtest's mean, than the budget alone does."""
    mean = metadata.metrics
    if backtest.BUDGET_ONLY not in mean:
        return None
    model, budget = mean[backtest.MODEL]["roc_auc"], mean[backtest.BUDGET_ONLY]["roc_auc"]
    if model >= budget:
        return None
    return f"mean backtest ROC AUC {model:.3f} is below the budget-only baseline's {budget:.3f}"


def train(
    conn,
    artifacts_dir: Path,
    *,
    manifest_hash: str | None = None,
    version: str | None = None,
    plan: TrainingPlan = DEFAULT_PLAN,
    progress: Progress | None = None,
    force: bool = False,
    schema: str = "marts",
) -> artifacts.LoadedModel:
    """Backtest, train on every labelled release, and write a versioned artifact; returns it
    loaded. It becomes `current` unless `promotion_problem` finds one and `force` is off: then
    `NotPromoted` says why, and the artifact stays beside the others for a look.

    `progress` gets a line as each step starts (without it they go to the log, at INFO)."""
    step = _Steps(progress, plan.backtest_years)
    step(f"loading rows from {schema}.ml_movie_features")
    rows = load_feature_rows(conn, schema=schema)
    labelled = backtest.labelled_in_order(rows)
    _require_labelled(labelled)

    with limited_threads(plan.threads):
        # The promoted model first: a catalogue too thin to train on fails before the backtest.
        step(
            f"fitting the model on all {len(labelled):,} labelled releases "
            f"({labelled['release_date'].min()} to {labelled['release_date'].max()}), "
            f"{plan.rounds} rounds, {_threads_text(plan.threads)}"
        )
        final = fit(labelled, plan)
        if final.dropped:
            logger.warning("features left out of this model: %s", final.dropped)
        step("walk-forward backtest (each year scored by a model trained on the years before)")
        judged = evaluate_out_of_time(labelled, plan, step)
        step.total -= plan.backtest_years - len(judged.periods)
        calibration = evaluate.calibration_table(judged.y, judged.probability[backtest.MODEL])
        importance_of = factor_importance if plan.importance == "factor" else column_importance
        step(
            f"permutation importance per {plan.importance}, {plan.importance_repeats} repeats, "
            f"on the newest backtest period"
        )
        last_fitted, last_rows = judged.last
        importance_series = importance_of(
            last_fitted.model,
            last_fitted.inputs(last_rows),
            last_rows[LABEL].astype(int).to_numpy(),
            repeats=plan.importance_repeats,
        )

    step("saving the model and its metadata")
    trained_at = datetime.now(UTC)
    version = version or trained_at.strftime("%Y%m%dT%H%M%SZ")
    y_all = labelled[LABEL].astype(int).to_numpy()
    metadata = ModelMetadata(
        version=version,
        trained_at=trained_at.isoformat(),
        code_revision=_code_revision(),
        dbt_manifest_sha256=manifest_hash,
        label="revenue_usd >= 2 * budget_usd when both are reliable (dbt vars)",
        training_rows=len(labelled),
        test_rows=len(judged.y),
        train_release_dates=[str(labelled["release_date"].min()),
                             str(labelled["release_date"].max())],
        test_release_dates=[judged.periods[0].start, judged.periods[-1].end],
        train_positive_rate=float(y_all.mean()),
        features=list(final.features),
        dropped_features=final.dropped,
        vocabulary=final.vocabulary.to_dict(),
        reference_values=_reference_values(final.inputs(labelled)),
        threshold=THRESHOLD,
        metrics=judged.mean(),
        calibration=calibration,
        permutation_importance={
            k: round(float(v), 5) for k, v in importance_series.sort_values(ascending=False).items()
        },
        seed=SEED,
        learned_until=str(labelled["release_date"].max()),
        backtest=judged.to_json(),
        calibration_method=_calibration_text(final, plan),
    )  # fmt: skip
    path = artifacts.save(artifacts_dir, version, final.model, metadata)
    step("plots (backtest, ROC, calibration, importance) and the model card")
    evaluate.plot_backtest(metadata.backtest, path / "backtest.png")
    evaluate.plot_roc(
        judged.y,
        {k: v for k, v in judged.probability.items() if k != backtest.BASE_RATE},
        path / "roc.png",
    )
    evaluate.plot_calibration(calibration, path / "calibration.png")
    evaluate.plot_importance(
        importance_series,
        path / "permutation_importance.png",
        by_factor=plan.importance == "factor",
    )
    write_model_card(path / artifacts.CARD_FILE, metadata)
    problem = promotion_problem(metadata)
    if problem is not None and not force:
        raise NotPromoted(
            f"model {version} not promoted: {problem}; it is saved in {path} "
            "(train with --force to promote it anyway)"
        )
    artifacts.point_current_to(artifacts_dir, version)
    step.finish(f"trained model {version}")
    logger.info("trained model %s: %s", version, metadata.metrics[backtest.MODEL])
    return artifacts.load(path)
