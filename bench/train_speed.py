"""Training speed, idle and beside CPU-bound processes, against the previous plan in the same run.

Each figure is one `ml.train.train` on the warehouse in a fresh Python process (so imports and
thread pools start cold, as in `tmdb train`), into a scratch artifacts folder:

1. the product's plan (`ml.train.DEFAULT_PLAN`) on an idle machine;
2. the same beside N busy processes (`while True: pass`, one per N; by default 1, "another
   CPU-bound process", then 2, one per core of the standard machine);
3. the previous plan (5 shuffled calibration folds, 250 rounds, permutation importance per
   column, the libraries' own thread counts) idle: the baseline. With --previous-under-load
   also beside the first N (slow and erratic: from half a minute to minutes on the demo
   warehouse, as spinning OpenMP threads meet the scheduler; the problem this bench guards
   against).

Prints seconds (whole process, and `train` alone), ROC AUC and Brier of each, and how many
cores processes outside the bench kept busy meanwhile (a run beside other work is not clean),
then the ratios: now / previous idle, loaded / idle (goal <= 2x), the idle time against the
goal (< 60 s), and the ROC AUC (the walk-forward backtest's mean, both trained with it) against
the previous plan's on the same data (goal: within 0.01, or better).

Needs a built warehouse (`make demo`, or `tmdb transform` on ingested data). Run:
  .venv/bin/python bench/train_speed.py [--busy 1 2] [--threads 1] [--previous-under-load]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_IDLE_SECONDS = 60.0
GOAL_LOADED_RATIO = 2.0
GOAL_AUC_DIFFERENCE = 0.01
# Beyond this many cores kept busy by processes outside the bench, a run's figures are not clean.
UNCLEAN_CORES = 0.1

# What training did before this bench existed: five shuffled calibration folds, 250 rounds,
# every column shuffled alone, OpenMP and BLAS on every core.
PREVIOUS_PLAN = {
    "calibration": "folds", "calibration_folds": 5, "rounds": 250, "importance": "column",
    "threads": None,
}  # fmt: skip

BUSY = "while True: pass"


def train_once(plan: dict) -> dict:
    """In the child process: one training with this plan, its time and metrics as a dict."""
    from ml.train import TrainingPlan, train
    from warehouse.connection import bootstrap, connect
    from warehouse.settings import get_settings

    conn = connect(bootstrap(get_settings()))
    try:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            model = train(
                conn, Path(folder), version="bench", plan=TrainingPlan(**plan), force=True
            )
            seconds = time.perf_counter() - started
    finally:
        conn.close()
    metadata = model.metadata
    return {
        "train_seconds": seconds,
        "roc_auc": metadata.metrics["model"]["roc_auc"],
        "brier": metadata.metrics["model"]["brier"],
        "training_rows": metadata.training_rows,
        "test_rows": metadata.test_rows,
        "importance": list(metadata.permutation_importance)[:3],
    }


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process), from /proc."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(plan: dict, busy: int) -> dict:
    """One training in a fresh process, beside `busy` spinning processes; also how many cores
    other processes (neither this bench nor its children) kept busy meanwhile, on average."""
    machine, children = _busy_cpu_seconds(), _children_cpu_seconds()
    spinners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    started = time.perf_counter()
    try:
        if spinners:
            time.sleep(1.0)  # let them reach full speed
        trained = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(plan)],
            cwd=os.getcwd(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - trained
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            spinner.wait()
    elapsed = time.perf_counter() - started
    others = (_busy_cpu_seconds() - machine) - (_children_cpu_seconds() - children)
    if child.returncode != 0:
        raise SystemExit(f"training failed:\n{child.stderr}")
    result = json.loads(child.stdout.splitlines()[-1])
    return {**result, "wall_seconds": wall, "busy": busy, "other_cores": max(others, 0) / elapsed}


def describe(plan: dict) -> str:
    threads = plan["threads"]
    calibration = (
        f"sigmoid on the newest {plan['calibration_share']:.0%}"
        if plan["calibration"] == "recent"
        else f"{plan['calibration_folds']} shuffled calibration folds"
    )
    return (
        f"{calibration}, {plan['rounds']} rounds, importance per "
        f"{plan['importance']} ({plan['importance_repeats']} repeats), "
        + ("the libraries' default threads" if threads is None else f"{threads} thread(s)")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--busy",
        type=int,
        nargs="+",
        default=[1, 2],
        help="numbers of busy processes to train beside, one run each",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="train with this many threads instead of the product's setting",
    )
    parser.add_argument(
        "--previous-under-load",
        action="store_true",
        help="also time the previous plan beside the first --busy count (slow)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child: a plan as JSON
    args = parser.parse_args()  # fmt: skip
    if args.one is not None:
        print(json.dumps(train_once(json.loads(args.one))))
        return 0

    from ml.train import DEFAULT_PLAN

    now = dataclasses.asdict(DEFAULT_PLAN)
    if args.threads is not None:
        now["threads"] = args.threads
    previous = {**now, **PREVIOUS_PLAN}
    runs: list[tuple[str, dict]] = [("now, idle", measure(now, 0))]
    for busy in args.busy:
        label = f"now, beside {busy} busy process" + ("es" if busy != 1 else "")
        runs.append((label, measure(now, busy)))
    runs.append(("previous, idle (baseline)", measure(previous, 0)))
    if args.previous_under_load and args.busy:
        busy = args.busy[0]
        label = f"previous, beside {busy} busy process" + ("es" if busy != 1 else "")
        runs.append((label, measure(previous, busy)))

    first = runs[0][1]
    print(
        f"Training on the warehouse: {first['training_rows']:,} releases to train on, "
        f"{first['test_rows']:,} scored in its backtest years; {os.cpu_count()} cores"
    )
    print(f"  now:      {describe(now)}")
    print(f"  previous: {describe(previous)}")
    print(f"  {'':36} {'process':>9} {'train()':>9} {'ROC AUC':>8} {'Brier':>7} {'others':>7}")
    for label, run in runs:
        print(
            f"  {label:36} {run['wall_seconds']:8.1f}s {run['train_seconds']:8.1f}s "
            f"{run['roc_auc']:8.4f} {run['brier']:7.4f} {run['other_cores']:7.2f}"
        )
    print("  (others: cores kept busy by processes outside this bench, on average)")
    unclean = [label for label, run in runs if run["other_cores"] > UNCLEAN_CORES]
    if unclean:
        print(f"  NOT CLEAN: other work ran beside {', '.join(unclean)}; run again when idle")
    idle = first["wall_seconds"]
    baseline = dict(runs)["previous, idle (baseline)"]
    print(f"  now / previous, idle: {idle / baseline['wall_seconds']:.2f}")
    for label, run in runs[1:]:
        if label.startswith("now,"):
            ratio = run["wall_seconds"] / idle
            verdict = "meets" if ratio <= GOAL_LOADED_RATIO else "MISSES"
            print(f"  {label} / idle: {ratio:.2f}x ({verdict} the goal <= {GOAL_LOADED_RATIO:g}x)")
        elif run is not baseline:
            ratio = run["wall_seconds"] / baseline["wall_seconds"]
            print(f"  {label} / previous idle: {ratio:.2f}x")
    verdict = "meets" if idle < GOAL_IDLE_SECONDS else "MISSES"
    print(f"  idle: {idle:.1f} s ({verdict} the goal < {GOAL_IDLE_SECONDS:g} s)")
    difference = first["roc_auc"] - baseline["roc_auc"]
    verdict = "meets" if difference >= -GOAL_AUC_DIFFERENCE else "MISSES"
    print(
        f"  ROC AUC now - previous: {difference:+.4f} "
        f"({verdict} the goal: no more than {GOAL_AUC_DIFFERENCE:g} below)"
    )
    print(f"  most important now: {', '.join(first['importance'])}")
    print(f"  most important previously: {', '.join(baseline['importance'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
