"""Walk-forward backtest: the classifier judged the way it is used.

`/predict` is asked about movies released after everything the model learned from. One split
held out once says little about that: a model can look good on the newest fifth of its period
and lose to the base rate a year later. So for each of the last K release years with enough
labelled films, a model is trained exactly as `tmdb train` trains one (same features, same
calibration on the newest training years), on the films released before that year only, and
scored on that year. Track records are point-in-time in `marts.ml_movie_features` (earlier films
only), so a year's rows are what a user would have sent then.

Each year reports ROC AUC, PR AUC, Brier and log loss for the model, the budget-only baseline
and the base rate of the films before it; their mean over the years is the held-out figure the
model card leads with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml import evaluate
from ml.feature_spec import LABEL

# A backtest year needs this many labelled films (with successes and failures) to be scored.
MIN_YEAR_ROWS = 30
BACKTEST_YEARS = 5

# Names of what is compared, in the order tables list them.
MODEL = "model"
BUDGET_ONLY = "budget-only logistic regression"
BASE_RATE = "base rate"


@dataclass
class Period:
    """One backtest period: trained on what came before `start`, scored on [start, end]."""

    label: str
    train: pd.DataFrame
    test: pd.DataFrame


@dataclass
class PeriodResult:
    label: str
    start: str
    end: str
    train_rows: int
    rows: int
    positive_rate: float
    train_positive_rate: float
    metrics: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.label, "start": self.start, "end": self.end,
            "train_rows": self.train_rows, "rows": self.rows,
            "positive_rate": round(self.positive_rate, 4),
            "train_positive_rate": round(self.train_positive_rate, 4),
            "metrics": self.metrics,
        }  # fmt: skip


@dataclass
class Backtest:
    """Per-period results, and the pooled out-of-time predictions for plots and calibration."""

    method: str
    periods: list[PeriodResult]
    y: np.ndarray
    probability: dict[str, np.ndarray]
    # The newest period's fitted model and its scored rows, for permutation importance.
    last: tuple[Any, pd.DataFrame] | None = field(default=None, repr=False)

    def mean(self) -> dict[str, dict[str, float]]:
        """Each compared model's metrics, averaged over the periods (each year weighs one)."""
        names = [n for n in self.periods[0].metrics if all(n in p.metrics for p in self.periods)]
        return {
            name: {
                metric: float(np.mean([p.metrics[name][metric] for p in self.periods]))
                for metric in self.periods[0].metrics[name]
            }
            for name in names
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "periods": [p.to_json() for p in self.periods],
            "mean": self.mean(),
        }


def labelled_in_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Labelled, dated rows in release order (ties by id): the order every split cuts in."""
    labelled = rows[rows[LABEL].notna() & rows["release_date"].notna()]
    return labelled.sort_values(["release_date", "movie_id"], kind="stable")


def _both_classes(frame: pd.DataFrame) -> bool:
    return frame[LABEL].nunique() == 2


def year_periods(
    labelled: pd.DataFrame, years: int = BACKTEST_YEARS, min_train_rows: int = 60
) -> list[Period]:
    """The last `years` release years with at least MIN_YEAR_ROWS labelled films of both
    classes and enough earlier films (`min_train_rows`, both classes) to train on."""
    year = pd.to_datetime(labelled["release_date"]).dt.year
    periods: list[Period] = []
    for candidate in sorted(year.unique(), reverse=True):
        test = labelled[year == candidate]
        train = labelled[year < candidate]
        if len(test) < MIN_YEAR_ROWS or not _both_classes(test):
            continue
        if len(train) < min_train_rows or not _both_classes(train):
            break  # earlier years have even less to train on
        periods.append(Period(str(candidate), train, test))
        if len(periods) == years:
            break
    return periods[::-1]


def run(
    periods: list[Period],
    fit: Callable[[pd.DataFrame], Any],
    method: str,
    on_period: Callable[[Period], None] | None = None,
) -> Backtest:
    """Fit on each period's training rows (`fit` returns an object with `probabilities(rows)`,
    a dict of name -> probabilities) and score its test rows."""
    results: list[PeriodResult] = []
    ys: list[np.ndarray] = []
    pooled: dict[str, list[np.ndarray]] = {}
    last = None
    for period in periods:
        if on_period is not None:
            on_period(period)
        fitted = fit(period.train)
        probability = fitted.probabilities(period.test)
        y = period.test[LABEL].astype(int).to_numpy()
        ys.append(y)
        for name, values in probability.items():
            pooled.setdefault(name, []).append(values)
        dates = period.test["release_date"]
        results.append(
            PeriodResult(
                label=period.label,
                start=str(dates.min()),
                end=str(dates.max()),
                train_rows=len(period.train),
                rows=len(period.test),
                positive_rate=float(y.mean()),
                train_positive_rate=float(period.train[LABEL].astype(int).mean()),
                metrics={name: evaluate.metrics(y, p) for name, p in probability.items()},
            )
        )
        last = (fitted, period.test)
    # A name missing in some period (no usable budget then) is left out of the pooled curves.
    complete = {k: np.concatenate(v) for k, v in pooled.items() if len(v) == len(periods)}
    return Backtest(method, results, np.concatenate(ys), complete, last)
