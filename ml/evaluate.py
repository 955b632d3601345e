"""Honest evaluation: the model and its baselines on the same releases, each scored by a model
that saw only earlier ones (`ml.backtest`); tables for the card and the CLI, and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

if TYPE_CHECKING:
    from ml.metadata import ModelMetadata


def metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    probability = np.clip(probability, 1e-6, 1 - 1e-6)
    return {
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "pr_auc": float(average_precision_score(y_true, probability)),
        "brier": float(brier_score_loss(y_true, probability)),
        "log_loss": float(log_loss(y_true, probability, labels=[0, 1])),
    }


def metrics_table(metadata: ModelMetadata) -> list[str]:
    """The model's and its baselines' metrics side by side (the backtest's mean), as lines of
    a Markdown table."""
    lines = ["| | ROC AUC | PR AUC | Brier | log loss |", "| --- | --- | --- | --- | --- |"]
    for name, values in metadata.metrics.items():
        lines.append(
            f"| {name} | {values['roc_auc']:.3f} | {values['pr_auc']:.3f} | "
            f"{values['brier']:.4f} | {values['log_loss']:.4f} |"
        )
    return lines


def _short(name: str) -> str:
    return "budget-only" if name.startswith("budget-only") else name


def backtest_table(metadata: ModelMetadata) -> list[str]:
    """One row per backtest period and one for their mean, each metric's cell giving the
    model's figure, then the budget-only baseline's and the base rate's (a constant ranks
    nothing, so it has no ROC AUC); empty for models saved before the backtest existed."""
    periods = metadata.backtest.get("periods") or []
    if not periods:
        return []
    names = list(metadata.backtest["mean"])
    ranked = [n for n in names if n != "base rate"]
    who = {m: " / ".join(_short(n) for n in (ranked if m == "roc_auc" else names))
           for m in ("roc_auc", "pr_auc", "brier", "log_loss")}  # fmt: skip
    header = ["period", "movies", "success rate", f"ROC AUC ({who['roc_auc']})",
              f"PR AUC ({who['pr_auc']})", f"Brier ({who['brier']})",
              f"log loss ({who['log_loss']})"]  # fmt: skip

    def cells(values: dict[str, dict[str, float]]) -> list[str]:
        out = []
        for metric, digits in (("roc_auc", 3), ("pr_auc", 3), ("brier", 4), ("log_loss", 4)):
            shown = ranked if metric == "roc_auc" else names
            out.append(" / ".join(
                f"{values[n][metric]:.{digits}f}" if n in values else "-" for n in shown
            ))  # fmt: skip
        return out

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for period in periods:
        lines.append("| " + " | ".join([period["period"], f"{period['rows']:,}",
                                        f"{period['positive_rate']:.1%}",
                                        *cells(period["metrics"])]) + " |")  # fmt: skip
    rows = sum(p["rows"] for p in periods)
    rate = sum(p["rows"] * p["positive_rate"] for p in periods) / rows
    mean = metadata.backtest["mean"]
    lines.append("| " + " | ".join(["**mean**", f"{rows:,}", f"{rate:.1%}", *cells(mean)]) + " |")
    return lines


def backtest_lines(metadata: ModelMetadata) -> list[str]:
    """What `tmdb train` prints: the walk-forward table, then the mean of each compared model,
    then the learned-until date."""
    method = metadata.backtest.get("method", "one held-out split")
    lines = [f"held out ({method}):", *backtest_table(metadata), "mean:", *metrics_table(metadata)]
    losing = years_losing_to_base_rate(metadata)
    if losing:
        lines += ["periods where the model's Brier did not beat the base rate's:"]
        lines += [f"  {line}" for line in losing]
    lines.append(f"learned until {metadata.last_learned_release}")
    return lines


def years_losing_to_base_rate(metadata: ModelMetadata) -> list[str]:
    """The backtest periods where the model's Brier is not below the base rate's, each with
    the shift that explains it (that year's success rate against the years trained on)."""
    out = []
    for period in metadata.backtest.get("periods") or []:
        model = period["metrics"]["model"]["brier"]
        base = period["metrics"]["base rate"]["brier"]
        if model >= base:
            out.append(
                f"{period['period']}: Brier {model:.4f} against the base rate's {base:.4f}; "
                f"{period['positive_rate']:.1%} of its films succeeded, against "
                f"{period['train_positive_rate']:.1%} in the years trained on"
            )
    return out


def calibration_table(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted vs observed success rate per probability decile (equal-count bins)."""
    frame = pd.DataFrame({"y": y_true, "p": probability})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    table = frame.groupby("bin").agg(
        count=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return [
        {
            "bin": int(index) + 1,
            "count": int(row["count"]),
            "mean_predicted": round(float(row["mean_predicted"]), 4),
            "observed_rate": round(float(row["observed_rate"]), 4),
        }
        for index, row in table.iterrows()
    ]


def plot_roc(y_true: np.ndarray, curves: dict[str, np.ndarray], path: Path) -> None:
    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
    for name, probability in curves.items():
        fpr, tpr, _ = roc_curve(y_true, probability)
        axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, probability):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    axes.set_title("ROC over the backtest's releases (each by an earlier-trained model)")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def plot_calibration(table: list[dict], path: Path) -> None:
    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    axes.plot(
        [row["mean_predicted"] for row in table],
        [row["observed_rate"] for row in table],
        marker="o",
        label="model",
    )
    axes.set_xlabel("Mean predicted probability")
    axes.set_ylabel("Observed success rate")
    axes.set_title("Calibration (deciles of the backtest's predictions)")
    axes.legend(loc="upper left")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def plot_backtest(backtest: dict, path: Path) -> None:
    """Per backtest period: ROC AUC (model, budget-only) and Brier (model, base rate)."""
    periods = backtest["periods"]
    labels = [p["period"] for p in periods]
    figure = Figure(figsize=(9, 4))
    auc_axes, brier_axes = figure.subplots(1, 2)
    names = list(backtest["mean"])
    for name in names:
        values = [p["metrics"].get(name, {}) for p in periods]
        if name != "base rate":
            auc_axes.plot(labels, [v.get("roc_auc", np.nan) for v in values], marker="o",
                          label=_short(name))  # fmt: skip
        if name != "budget-only logistic regression":
            brier_axes.plot(labels, [v.get("brier", np.nan) for v in values], marker="o",
                            label=_short(name))  # fmt: skip
    auc_axes.axhline(0.5, linestyle="--", color="grey", linewidth=1)
    auc_axes.set_title("ROC AUC by backtest year (higher is better)")
    brier_axes.set_title("Brier by backtest year (lower is better)")
    for axes in (auc_axes, brier_axes):
        axes.set_xlabel("Year scored (trained on the years before)")
        axes.legend(loc="best")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def plot_importance(
    importance: pd.Series, path: Path, top: int = 15, *, by_factor: bool = False
) -> None:
    """Permutation importance, per input column or (`by_factor`) per explanation factor."""
    shown = importance.sort_values(ascending=True).tail(top)
    figure = Figure(figsize=(6.5, 0.35 * len(shown) + 1.5))
    axes = figure.subplots()
    axes.barh(list(shown.index), list(shown.values))
    if by_factor:
        axes.set_xlabel("Drop in ROC AUC when all of a factor's inputs are shuffled together")
        axes.set_title("Permutation importance by factor (newest backtest year)")
    else:
        axes.set_xlabel("Drop in ROC AUC when shuffled")
        axes.set_title("Permutation importance (newest backtest year)")
    figure.savefig(path, dpi=100, bbox_inches="tight")
