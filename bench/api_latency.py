"""API latency and throughput, each against a baseline measured in the same run.

1. /predict, as `bench/predict_load.py` measures it: by movie id at concurrency 32 against
   /health, one at a time (p99 < 20 ms), a description (p50 < 15 ms), a batch of 1,000
   descriptions (< 1 s).
2. /ask overhead with a zero-latency LLM stand-in: everything but the model's thinking time
   (prompt, SDK, guard, query as tmdb_analyst, answer), for each route: the semantic one
   (a metric query compiled by MetricFlow) and the SQL one. Goal: p50 <= 30 ms for both.
   Beside it, a metric query's compile (MetricFlow + the guard) against the guard alone on the
   same SQL. Goal: compile p50 <= 50 ms.
3. Batch scoring: rows/s of `tmdb score`'s scorer (a probability and its factors per movie).

Needs a built warehouse and a trained model (run `make demo` or `tmdb transform && tmdb train`
first). Run: .venv/bin/python bench/api_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.semantic.service import SemanticLayer  # noqa: E402
from api.text_to_sql.guard import check_sql  # noqa: E402
from bench import predict_load  # noqa: E402
from bench.http_load import load, pct, start_api  # noqa: E402
from cli import gemini_standin  # noqa: E402
from ml.predict import score_all  # noqa: E402
from warehouse.connection import bootstrap, connect  # noqa: E402
from warehouse.settings import get_settings  # noqa: E402

# Verified questions: the first have saved metric queries (the stand-in answers them through the
# semantic layer), the others only SQL.
ASK_QUESTIONS = {
    "semantic": [
        "What is the success rate by genre?",
        "How many movies of each genre were released in the 1990s?",
        "Which actors appear in the most movies?",
    ],
    "sql": [
        "Which 10 movies had the highest return on investment?",
        "Which month of the year has the best average rating?",
        "What is the median ROI of movies in collections compared to standalone movies?",
    ],
}


def compile_times(target_dir: Path, n: int) -> tuple[list[float], list[float]]:
    """Milliseconds per uncached compile of the saved queries (engine loaded once, before
    timing), and per guard check of the same SQL: the baseline."""
    layer = SemanticLayer(target_dir)
    queries = [layer.saved_query(name) for name in layer.catalog().saved_queries]
    tables = layer.engines.get().tables
    compiles, guards = [], []
    for i in range(n):
        query = queries[i % len(queries)]
        layer.clear_compiled()  # MetricFlow's own work: a repeated query would be a cache hit
        started = time.perf_counter()
        compiled = layer.compile(query)
        compiles.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        check_sql(compiled.sql, allowed_tables=tables, limit=compiled.rows + 1)
        guards.append((time.perf_counter() - started) * 1000)
    return compiles, guards


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ask-requests", type=int, default=60)
    parser.add_argument("--compiles", type=int, default=200)
    args = parser.parse_args()
    settings = get_settings()
    predictor = predict_load.current_predictor(settings)
    conn = connect(bootstrap(settings))
    ids, descriptions = predict_load.catalogue_inputs(conn)

    env = {
        **os.environ,
        "GEMINI_API_KEY": gemini_standin.STANDIN_KEY,
        "GEMINI_BASE_URL": gemini_standin.start(target_dir=settings.dbt_target_path),
        "ASK_REQUESTS_PER_MINUTE": "100000",
    }
    server, base = start_api(env)
    try:
        predict = predict_load.measure(base, ids, descriptions, args.requests, args.concurrency)
        ask = {
            route: asyncio.run(
                load(
                    f"{base}/ask-text",
                    "POST",
                    args.ask_requests,
                    1,
                    lambda i, qs=questions: {"question": f"{qs[i % len(qs)]} (variant {i})"},
                )
            )[0]
            for route, questions in ASK_QUESTIONS.items()
        }
        routes = {
            route: httpx.post(f"{base}/ask-text", json={"question": questions[0]}, timeout=60)
            .json()
            .get("route")
            for route, questions in ASK_QUESTIONS.items()
        }
        if routes != {route: route for route in ASK_QUESTIONS}:
            raise SystemExit(f"the questions did not take their routes: {routes}")
    finally:
        server.terminate()
        server.wait()
    compile_ms, guard_ms = compile_times(settings.dbt_target_path, args.compiles)
    started = time.perf_counter()
    scored = score_all(conn, predictor)
    score_rps = scored / (time.perf_counter() - started)
    conn.close()

    print(f"API latency ({os.cpu_count()} cores, 1 uvicorn worker, {len(ids):,} movies)")
    predict_load.report(predict)
    for route, latencies in ask.items():
        print(
            f"  /ask overhead, {route} route (zero-latency LLM, uncached)"
            f" p50 {pct(latencies, 50):.1f} ms  p99 {pct(latencies, 99):.1f} ms"
            "  (goal p50 <= 30 ms)"
        )
    print(
        f"  metric query compile p50 {pct(compile_ms, 50):.1f} ms  p99 {pct(compile_ms, 99):.1f} ms"
        f" (goal p50 <= 50 ms); the guard alone on the same SQL p50 {pct(guard_ms, 50):.1f} ms:"
        f" {pct(compile_ms, 50) / pct(guard_ms, 50):.1f}x"
    )
    print(f"  batch scoring: `tmdb score`'s scorer {score_rps:,.0f} movies/s, factors included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
