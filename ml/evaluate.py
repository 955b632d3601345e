"""Honest evaluation: the model and its baselines on the same held-out, newest releases."""

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
    """The model's and its baselines' metrics side by side, as lines of a Markdown table."""
    lines = ["| | ROC AUC | PR AUC | Brier | log loss |", "| --- | --- | --- | --- | --- |"]
    for name, values in metadata.metrics.items():
        lines.append(
            f"| {name} | {values['roc_auc']:.3f} | {values['pr_auc']:.3f} | "
            f"{values['brier']:.4f} | {values['log_loss']:.4f} |"
        )
    return lines


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
    axes.set_title("ROC on the newest 20% of releases")
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
    axes.set_title("Calibration (deciles of the test set)")
    axes.legend(loc="upper left")
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
        axes.set_title("Permutation importance by factor (test set)")
    else:
        axes.set_xlabel("Drop in ROC AUC when shuffled")
        axes.set_title("Permutation importance (test set)")
    figure.savefig(path, dpi=100, bbox_inches="tight")
