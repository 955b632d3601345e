"""What carries over from one year to the next: the walk-forward backtest of the product's plan
beside variants of it, all on the same warehouse in the same run.

Each variant is `ml.train.evaluate_out_of_time` (every backtest year scored by a model trained,
as `tmdb train` trains one, on the years before it) with one thing changed:

- each feature family left out in turn (production companies, US certification, genres, the
  director's and the top cast's track records, keywords, language, collection, runtime,
  release timing), to see what helps next year rather than only inside one period;
- the calendar year let back in (it is left out: trees cannot extrapolate it);
- the previous calibration (shuffled folds over all years) instead of the newest years;
- fewer or more boosting rounds.

Prints, per variant: the mean ROC AUC and Brier over the backtest years and their difference
from the product's (positive ROC AUC and negative Brier differences are better), in how many
years the model's Brier beat the base rate's, and the model's Brier minus the base rate's per
year. The budget-only baseline and the base rate are printed once (they do not change).

Needs a built warehouse (`make demo`, or `tmdb transform` on ingested data). Run:
  .venv/bin/python bench/backtest_ablation.py [--years 5] [--only product folds ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAMILIES = {
    "production companies": ("production companies",),
    "US certification": ("US certification",),
    "genres": ("genres",),
    "track records": ("director's track record", "top cast's track record"),
    "director's track record": ("director's track record",),
    "top cast's track record": ("top cast's track record",),
    "keywords": ("keywords",),
    "original language": ("original language",),
    "part of a collection": ("part of a collection",),
    "runtime": ("runtime",),
    "release timing": ("release timing",),
}


def variants(base) -> dict:
    """Name -> training plan; the product's first."""
    plans = {"product": base}
    plans["previous calibration (shuffled folds)"] = replace(base, calibration="folds")
    plans["with the calendar year"] = replace(base, calendar_year=True)
    for rounds in (75, 120, 250, 400):
        if rounds != base.rounds:
            plans[f"{rounds} rounds"] = replace(base, rounds=rounds)
    for name, factors in FAMILIES.items():
        plans[f"without {name}"] = replace(base, without_factors=factors)
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--years", type=int, default=None, help="backtest years (default: 5)")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = parser.parse_args()

    from ml import backtest
    from ml.features import load_feature_rows
    from ml.train import DEFAULT_PLAN, evaluate_out_of_time, limited_threads
    from warehouse.connection import bootstrap, connect
    from warehouse.settings import get_settings

    base = DEFAULT_PLAN if args.years is None else replace(DEFAULT_PLAN, backtest_years=args.years)
    conn = connect(bootstrap(get_settings()))
    try:
        labelled = backtest.labelled_in_order(load_feature_rows(conn))
    finally:
        conn.close()
    plans = variants(base)
    if args.only:
        plans = {k: v for k, v in plans.items() if k == "product" or k in args.only}

    results = {}
    for name, plan in plans.items():
        started = time.perf_counter()
        with limited_threads(plan.threads):
            results[name] = evaluate_out_of_time(labelled, plan)
        print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)

    product = results["product"]
    mean = product.mean()
    print(f"{len(labelled):,} labelled releases; {product.method}: "
          + ", ".join(f"{p.label} ({p.rows})" for p in product.periods))  # fmt: skip
    for name in (backtest.BUDGET_ONLY, backtest.BASE_RATE):
        if name in mean:
            print(f"{name}: mean ROC AUC {mean[name]['roc_auc']:.4f}, "
                  f"Brier {mean[name]['brier']:.4f}")  # fmt: skip
    print()
    print(
        "| variant | ROC AUC | vs product | Brier | vs product | years Brier < base rate "
        "| Brier minus base rate's, by year |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    reference = mean[backtest.MODEL]
    for name, judged in results.items():
        model = judged.mean()[backtest.MODEL]
        gaps = [
            p.metrics[backtest.MODEL]["brier"] - p.metrics[backtest.BASE_RATE]["brier"]
            for p in judged.periods
        ]
        labels = [p.label for p in judged.periods]
        by_year = " ".join(f"{label}: {g:+.4f}" for label, g in zip(labels, gaps, strict=True))
        print(
            f"| {name} | {model['roc_auc']:.4f} | {model['roc_auc'] - reference['roc_auc']:+.4f} "
            f"| {model['brier']:.4f} | {model['brier'] - reference['brier']:+.4f} "
            f"| {sum(g < 0 for g in gaps)}/{len(gaps)} | {by_year} |"
        )


if __name__ == "__main__":
    main()
