"""Cost at the catalogue's real size (issue 27 §3): the same cycle at 3,000, 30,000 and 300,000
films, each figure read against the smallest size measured in the same run.

Per size, against the local TMDB server (seed 1, no latency, no rate limit: the product's own
cost, not TMDB's) and a fresh database on one embedded PostgreSQL, each step is the real
command in its own process (its wall time and peak resident memory, children included):
1. `tmdb ingest bulk`, the backfill: ms per film. Goal: within 1.3x of the smallest size's.
2. `tmdb transform`, the full build (every model, test and the docs): ms per film, same goal.
3. `tmdb train` and `tmdb score`: ms per film, same goal.
4. Peak memory of the backfill, the build, training and the API: goal <= 1 GB each.
5. A daily increment touching 1% of the films (the server moved one day with
   `--daily-change`): `tmdb ingest daily`, then `tmdb transform` again, incremental marts
   catching up. Goal: <= 0.25x the full build at the largest size.
6. The API (`tmdb serve`): seconds from start to `/health` saying ok (the grounding index is
   built by then, in the background), the first `/ask` after it, then the p50 of `/ask` over a
   set of questions and of `POST /metrics/query` over a set of queries, each asked REPEAT times
   (the first asking of each counted apart, as "cold"). Goal: p50 at the largest size <= 3x the
   smallest's. The table also shows each query's first asking and whether a rollup answered
   it (`api/semantic/rollup.py`): the director's revenue and the median read every movie.

Writes the table (markdown) and a PNG of cost per film against size. Not part of `make test`:
at 300,000 films it takes about an hour.

Run: .venv/bin/python -m bench.scale [--sizes 3000 30000 300000] [--plot docs/scale.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_throughput import free_port, fresh_database  # noqa: E402
from ingestion.fake_tmdb import FAKE_TMDB_TOKEN  # noqa: E402
from warehouse import embedded  # noqa: E402

SIZES = (3_000, 30_000, 300_000)
SEED = "1"
DAILY_CHANGE = 0.0071  # changed share; with additions and removals about 1% of films touched
PER_FILM_GOAL = 1.3
MEMORY_GOAL_MB = 1024
INCREMENT_GOAL = 0.25
LATENCY_GOAL = 3.0
REPEAT = 5

#: Questions of the shapes analysts ask first, with no names in them so every catalogue has
#: them; the built-in engine answers each on the synthetic catalogue.
QUESTIONS = (
    "How many movies were released in 2010?",
    "What is the average budget by genre?",
    "Success rate by year since 2000",
    "Top 10 movies by revenue",
    "Which director has the most movies?",
    "Average rating of dramas",
    "Total revenue by decade",
    "Median ROI of comedies",
)
YEAR_FILTER = "{{ TimeDimension('metric_time', 'year') }} >= '2000-01-01'"
QUERIES = (
    {"metrics": ["movies"], "group_by": ["movie__primary_genre"]},
    {"metrics": ["success_rate"], "group_by": ["metric_time__year"], "where": [YEAR_FILTER]},
    {"metrics": ["average_budget_usd", "average_rating"], "group_by": ["genre__genre_name"]},
    {
        "metrics": ["total_revenue_usd"],
        "group_by": ["movie__director_name"],
        "order_by": ["-total_revenue_usd"],
        "limit": 10,
    },
    {"metrics": ["median_roi"], "group_by": ["movie__original_language"], "limit": 20},
)  # fmt: skip


@dataclass
class Step:
    """One command's cost: wall seconds and peak resident memory (the process and its children)."""

    seconds: float
    peak_mb: float


@dataclass
class Size:
    films: int
    steps: dict[str, Step] = field(default_factory=dict)
    touched: int = 0
    api: dict[str, Any] = field(default_factory=dict)

    def per_film_ms(self, step: str) -> float:
        return 1000 * self.steps[step].seconds / self.films


def run(args: list[str], env: dict[str, str], log: Path) -> Step:
    """`args` in its own process; its wall time and peak RSS (wait4 counts reaped children)."""
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: see {log}")
    return Step(seconds, usage.ru_maxrss / 1024)


def tmdb(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def start_server(films: int, day: int, today: date) -> tuple[subprocess.Popen, str]:
    """The local TMDB server at `day` of one world whose day 0 is yesterday."""
    port = free_port()
    args = tmdb("fake-tmdb", "--port", str(port), "--movies", str(films), "--seed", SEED)
    args += ["--day", str(day), "--today", today.isoformat()]
    args += ["--daily-change", str(DAILY_CHANGE)]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/3/configuration", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the local TMDB server for {films:,} films did not start")


def point_at(env: dict[str, str], base: str) -> dict[str, str]:
    return env | {
        "TMDB_API_BASE_URL": f"{base}/3",
        "TMDB_EXPORTS_BASE_URL": f"{base}/p/exports",
    }


def api_figures(env: dict[str, str], log: Path) -> dict[str, float]:
    """Start `tmdb serve`, wait for /health ok, then time /ask and /metrics/query."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            tmdb("serve", "--port", str(port)), cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                try:
                    if client.get("/health").json().get("status") == "ok":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                if process.poll() is not None or time.perf_counter() - started > 900:
                    raise SystemExit(f"the API did not become healthy: see {log}")
                time.sleep(0.1)
            ready = time.perf_counter() - started
            first = _timed(client, "/ask-text", {"question": QUESTIONS[0]})
            ask = _latencies(client, "/ask-text", [{"question": q} for q in QUESTIONS])
            query = _latencies(client, "/metrics/query", list(QUERIES))
            rolled = [
                "agg_" in client.post("/metrics/query", json=body).json()["sql"] for body in QUERIES
            ]
        peak = _peak_mb(process.pid)
    finally:
        process.terminate()
        process.wait()
    return {
        "ready_s": ready,
        "first_ask_ms": first,
        "ask_cold_p50_ms": statistics.median(ask[0]),
        "ask_p50_ms": statistics.median(ask[1]),
        "query_cold_p50_ms": statistics.median(query[0]),
        "query_p50_ms": statistics.median(query[1]),
        "query_cold_ms": query[0],  # each query's first asking, in QUERIES' order
        "query_rolled": rolled,  # whether each was answered from a rollup
        "peak_mb": peak,
    }


def _timed(client: httpx.Client, path: str, body: dict) -> float:
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = 1000 * (time.perf_counter() - started)
    if response.status_code != 200:
        raise SystemExit(f"{path} {body} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def _latencies(client: httpx.Client, path: str, bodies: list[dict]) -> tuple[list, list]:
    """(first asking of each body, every later one), in ms."""
    cold = [_timed(client, path, body) for body in bodies]
    warm = [_timed(client, path, body) for _ in range(REPEAT - 1) for body in bodies]
    return cold, warm


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(films: int, server_url: str, workdir: Path) -> Size:
    folder = workdir / f"n{films}"
    folder.mkdir(parents=True)
    log = folder / "log.txt"
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(server_url, f"scale_{films}"),
        "TMDB_API_TOKEN": FAKE_TMDB_TOKEN,
        "TMDB_RATE_LIMIT_RPS": "100000",
        "TMDB_STATE_DIR": str(folder / "state"),
        "LAKE_URL": str(folder / "lake"),
        "DBT_TARGET_PATH": str(folder / "target"),
        "TMDB_ARTIFACTS_DIR": str(folder / "artifacts"),
        "ASK_ENGINE": "builtin",
        "ASK_REQUESTS_PER_MINUTE": "1000000",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    env.pop("GEMINI_API_KEY", None)
    size = Size(films)
    today = datetime.now(UTC).date()
    day0 = today - timedelta(days=1)
    server, base = start_server(films, day=0, today=day0)
    try:
        backfill = tmdb("ingest", "bulk", "--export-date", day0.isoformat())
        size.steps["backfill"] = run(backfill, point_at(env, base), log)
    finally:
        server.terminate()
        server.wait()
    size.steps["transform"] = run(tmdb("transform"), env, log)
    size.steps["train"] = run(tmdb("train"), env, log)
    size.steps["score"] = run(tmdb("score"), env, log)
    size.api = api_figures(env, log)
    print(f"  {films:,}: {json.dumps({k: asdict(v) for k, v in size.steps.items()})}", flush=True)

    before = _newest_fetch(env["DATABASE_URL"])
    server, base = start_server(films, day=1, today=today)
    try:
        size.steps["daily"] = run(tmdb("ingest", "daily"), point_at(env, base), log)
    finally:
        server.terminate()
        server.wait()
    size.touched = _films_touched(env["DATABASE_URL"], before)
    size.steps["transform_daily"] = run(tmdb("transform"), env, log)
    return size


def _newest_fetch(database_url: str):
    return _one(database_url, "select max(_fetched_at) from raw_tmdb.movies")


def _films_touched(database_url: str, before) -> int:
    """Films the daily run changed, added or removed (each landed once more, or deleted)."""
    return _one(
        database_url,
        "select (select count(*) from raw_tmdb.movies where _fetched_at > %s)"
        " + (select count(*) from raw_tmdb.movie_deletions)",
        (before,),
    )


def _one(database_url: str, sql: str, params: tuple = ()):
    import psycopg2

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def table(sizes: list[Size]) -> list[str]:
    base, top = sizes[0], sizes[-1]
    head = "| figure | " + " | ".join(f"{s.films:,} films" for s in sizes) + " | goal |"
    lines = [head, "| --- |" + " --- |" * (len(sizes) + 1)]

    def row(name: str, values: list[str], goal: str) -> None:
        lines.append(f"| {name} | " + " | ".join(values) + f" | {goal} |")

    for step, label in (
        ("backfill", "backfill (`tmdb ingest bulk`), ms per film"),
        ("transform", "full build (`tmdb transform`), ms per film"),
        ("train", "`tmdb train`, ms per film"),
        ("score", "`tmdb score`, ms per film"),
    ):
        ratio = top.per_film_ms(step) / base.per_film_ms(step)
        row(
            label,
            [f"{s.per_film_ms(step):.2f} ({s.steps[step].seconds:,.1f} s)" for s in sizes],
            f"≤ {PER_FILM_GOAL}x the smallest: **{ratio:.2f}x** {_met(ratio <= PER_FILM_GOAL)}",
        )
    for step, label in (
        ("backfill", "peak memory, backfill"),
        ("transform", "peak memory, full build"),
        ("train", "peak memory, `tmdb train`"),
        ("score", "peak memory, `tmdb score`"),
    ):
        peak = top.steps[step].peak_mb
        row(
            label,
            [f"{s.steps[step].peak_mb:,.0f} MB" for s in sizes],
            f"≤ {MEMORY_GOAL_MB:,} MB {_met(peak <= MEMORY_GOAL_MB)}",
        )
    row(
        "peak memory, the API",
        [f"{s.api['peak_mb']:,.0f} MB" for s in sizes],
        f"≤ {MEMORY_GOAL_MB:,} MB {_met(top.api['peak_mb'] <= MEMORY_GOAL_MB)}",
    )
    increment = top.steps["transform_daily"].seconds / top.steps["transform"].seconds
    row(
        "daily increment: films touched; `tmdb transform` after it",
        [
            f"{s.touched:,} ({s.touched / s.films:.1%}); {s.steps['transform_daily'].seconds:.1f} s"
            f" ({s.steps['transform_daily'].seconds / s.steps['transform'].seconds:.2f}x full)"
            for s in sizes
        ],
        f"≤ {INCREMENT_GOAL}x the full build: **{increment:.2f}x** "
        f"{_met(increment <= INCREMENT_GOAL)}",
    )
    row("API start to `/health` ok", [f"{s.api['ready_s']:.1f} s" for s in sizes], "")
    row("first `/ask` after ok", [f"{s.api['first_ask_ms']:.0f} ms" for s in sizes], "normal time")
    for key, label in (
        ("ask_p50_ms", "`/ask-text` p50"),
        ("ask_cold_p50_ms", "`/ask-text` p50, first asking"),
        ("query_p50_ms", "`/metrics/query` p50"),
        ("query_cold_p50_ms", "`/metrics/query` p50, first asking"),
    ):
        ratio = top.api[key] / base.api[key]
        row(
            label,
            [f"{s.api[key]:.1f} ms" for s in sizes],
            f"≤ {LATENCY_GOAL}x the smallest: **{ratio:.2f}x** {_met(ratio <= LATENCY_GOAL)}",
        )
    row(
        "`/metrics/query` first asking, each query (R: from a rollup)",
        [
            ", ".join(
                f"{ms:.0f}{' R' if rolled else ''}"
                for ms, rolled in zip(s.api["query_cold_ms"], s.api["query_rolled"], strict=True)
            )
            for s in sizes
        ],
        "",
    )
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def plot(sizes: list[Size], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    films = [s.films for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for step, label in (
        ("backfill", "backfill"),
        ("transform", "full build"),
        ("transform_daily", "build after a 1% day"),
        ("train", "train"),
        ("score", "score"),
    ):
        ax.plot(films, [s.per_film_ms(step) for s in sizes], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("films in the catalogue")
    ax.set_ylabel("ms per film (wall time / films)")
    ax.set_title("Cost per film against catalogue size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "scale.png")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tmdb-bench-scale-"))
    server_url = embedded.start(workdir / "pg")
    sizes = []
    try:
        for films in sorted(args.sizes):
            print(f"measuring {films:,} films in {workdir}", flush=True)
            sizes.append(measure(films, server_url, workdir))
            (workdir / "figures.json").write_text(json.dumps([asdict(s) for s in sizes]))
    finally:
        embedded.stop(workdir / "pg")
    print(f"cost at size ({os.cpu_count()} cores), every figure from this run:")
    print("\n".join(table(sizes)))
    plot(sizes, args.plot)
    print(f"plot: {args.plot}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
