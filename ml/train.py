"""Training: a time-based split, baselines in the same run, a calibrated gradient-boosted model.

The newest 20% of labelled releases are held out, as they would be in use: the model is asked
about movies that come after everything it learned from. Everything is seeded, so the same data
gives the same model and the same metrics.

A real catalogue may lack whole feature families (no cast, no keywords, one language). A feature
the training split gives nothing to learn from is left out of that model, named with its reason
in the metadata, the model card and `tmdb train`'s summary; see `ml.feature_selection`.

Training runs on a deliberate number of threads (`TrainingPlan.threads`, set with threadpoolctl
for the boosting's OpenMP and for BLAS): left to themselves, HistGradientBoosting's OpenMP threads
take every core and spin at each of their many short barriers, so beside another busy process on
a two-core machine training ran more than ten times slower (`bench/train_speed.py`). The work is
what the model card needs and no more: three calibration folds (each fitted only for its
out-of-fold predictions), and permutation importance per explanation factor.
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

from ml import artifacts, evaluate
from ml.feature_selection import MIN_LEAF, usable_features
from ml.feature_spec import CATEGORICAL_INPUTS, LABEL, RAW_COLUMNS, factor_columns
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
    """How much work training does, and on how many threads; the default is the product's.

    The final model is the same whatever the folds: with `ensemble=False` the folds are fitted
    only for out-of-fold predictions to calibrate on, then one model is refitted on the whole
    training split. So the folds change the calibration a little and the ROC AUC not at all.
    """

    # Folds fitted for out-of-fold predictions (the sigmoid calibration's data).
    calibration_folds: int = 3
    # Boosting rounds of every fit (no early stopping below 10,000 training rows).
    rounds: int = 250
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


@dataclass
class Split:
    train: pd.DataFrame
    test: pd.DataFrame


def time_split(rows: pd.DataFrame, test_share: float = TEST_SHARE) -> Split:
    """Labelled, dated rows ordered by release date; the newest `test_share` is the test set."""
    labelled = rows[rows[LABEL].notna() & rows["release_date"].notna()]
    labelled = labelled.sort_values(["release_date", "movie_id"], kind="stable")
    if len(labelled) < MIN_LABELLED_ROWS:
        raise NotEnoughData(
            f"only {len(labelled)} movies with a success label and a release date; "
            f"need at least {MIN_LABELLED_ROWS}"
        )
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


def build_model(inputs: pd.DataFrame, plan: TrainingPlan = DEFAULT_PLAN) -> CalibratedClassifierCV:
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
    pipeline = Pipeline([("encode", encode), ("model", boosted)])
    return CalibratedClassifierCV(
        pipeline,
        method="sigmoid",
        cv=StratifiedKFold(plan.calibration_folds, shuffle=True, random_state=SEED),
        # one model calibrated on out-of-fold predictions: one model's cost per prediction
        ensemble=False,
    )


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

    TOTAL = 8

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._started = time.perf_counter()
        self._done = 0

    def __call__(self, message: str) -> None:
        self._done += 1
        line = f"[{self._done}/{self.TOTAL}] {message}"
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


def train(
    conn,
    artifacts_dir: Path,
    *,
    manifest_hash: str | None = None,
    version: str | None = None,
    plan: TrainingPlan = DEFAULT_PLAN,
    progress: Progress | None = None,
) -> artifacts.LoadedModel:
    """Train, evaluate against baselines, and write a versioned artifact; returns it loaded.

    `progress` gets a line as each step starts (without it they go to the log, at INFO)."""
    step = _Steps(progress)
    step("loading rows from marts.ml_movie_features")
    rows = load_feature_rows(conn)
    split = time_split(rows)
    step(
        f"time split: {len(split.train):,} releases to train on, the newest "
        f"{len(split.test):,} held out (from {split.test['release_date'].min()})"
    )
    vocabulary = Vocabulary.learn(split.train)
    x_train = model_inputs(split.train[RAW_COLUMNS], vocabulary)
    kept, dropped = usable_features(x_train)
    _require_enough_features(kept, dropped)
    if dropped:
        logger.warning("features left out of this model: %s", dropped)
    x_train = x_train[kept]
    x_test = model_inputs(split.test[RAW_COLUMNS], vocabulary)[kept]
    y_train = split.train[LABEL].astype(int).to_numpy()
    y_test = split.test[LABEL].astype(int).to_numpy()

    with limited_threads(plan.threads):
        step(
            f"fitting the model on {len(kept)} inputs: {plan.calibration_folds} calibration "
            f"folds and a refit on all, {plan.rounds} rounds each, {_threads_text(plan.threads)}"
        )
        model = build_model(x_train, plan).fit(x_train, y_train)
        step("fitting the baselines (budget-only logistic regression, base rate)")
        base_rate = DummyClassifier(strategy="prior").fit(x_train, y_train)
        probability = {"model": model.predict_proba(x_test)[:, 1]}
        if "log_budget_usd" in kept:  # without a usable budget there is no budget-only baseline
            budget = ["log_budget_usd"]
            budget_only = budget_only_baseline().fit(x_train[budget], y_train)
            baseline = budget_only.predict_proba(x_test[budget])[:, 1]
            probability["budget-only logistic regression"] = baseline
        probability["base rate"] = base_rate.predict_proba(x_test)[:, 1]
        step("metrics and calibration table on the held-out releases")
        results = {name: evaluate.metrics(y_test, p) for name, p in probability.items()}
        calibration = evaluate.calibration_table(y_test, probability["model"])
        importance_of = factor_importance if plan.importance == "factor" else column_importance
        step(f"permutation importance per {plan.importance}, {plan.importance_repeats} repeats")
        importance_series = importance_of(model, x_test, y_test, repeats=plan.importance_repeats)

    step("saving the model and its metadata")
    trained_at = datetime.now(UTC)
    version = version or trained_at.strftime("%Y%m%dT%H%M%SZ")
    metadata = ModelMetadata(
        version=version,
        trained_at=trained_at.isoformat(),
        code_revision=_code_revision(),
        dbt_manifest_sha256=manifest_hash,
        label="revenue_usd >= 2 * budget_usd when both are reliable (dbt vars)",
        training_rows=len(split.train),
        test_rows=len(split.test),
        train_release_dates=[str(split.train["release_date"].min()),
                             str(split.train["release_date"].max())],
        test_release_dates=[str(split.test["release_date"].min()),
                            str(split.test["release_date"].max())],
        train_positive_rate=float(y_train.mean()),
        features=list(x_train.columns),
        dropped_features=dropped,
        vocabulary=vocabulary.to_dict(),
        reference_values=_reference_values(x_train),
        threshold=THRESHOLD,
        metrics=results,
        calibration=calibration,
        permutation_importance={
            k: round(float(v), 5) for k, v in importance_series.sort_values(ascending=False).items()
        },
        seed=SEED,
    )  # fmt: skip
    path = artifacts.save(artifacts_dir, version, model, metadata)
    step("plots (ROC, calibration, importance) and the model card")
    evaluate.plot_roc(
        y_test, {k: v for k, v in probability.items() if k != "base rate"}, path / "roc.png"
    )
    evaluate.plot_calibration(calibration, path / "calibration.png")
    evaluate.plot_importance(
        importance_series,
        path / "permutation_importance.png",
        by_factor=plan.importance == "factor",
    )
    write_model_card(path / artifacts.CARD_FILE, metadata)
    artifacts.point_current_to(artifacts_dir, version)
    step.finish(f"trained model {version}")
    logger.info("trained model %s: %s", version, results["model"])
    return artifacts.load(path)
