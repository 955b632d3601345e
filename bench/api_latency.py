"""API latency and throughput, each against a baseline measured in the same run.

1. /predict (by movie id) p50/p99 and requests/s at concurrency 32, and the ratio of its
   requests/s to /health's (the framework's own ceiling on this machine).
2. /ask overhead with a zero-latency LLM stand-in: everything but the model's thinking time
   (prompt, SDK, guard, query as tmdb_analyst, answer), for each route: the semantic one
   (a metric query compiled by MetricFlow) and the SQL one. Goal: p50 <= 30 ms for both.
   Beside it, a metric query's compile (MetricFlow + the guard) against the guard alone on the
   same SQL. Goal: compile p50 <= 50 ms.
3. Batch scoring: rows/s of POST /predict/batch (1,000 ids) and of `tmdb score`'s scorer.

Needs a built warehouse and a trained model (run `make demo` or `tmdb transform && tmdb train`
first). Run: .venv/bin/python bench/api_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.semantic.service import SemanticLayer  # noqa: E402
from api.text_to_sql.guard import check_sql  # noqa: E402
from cli import gemini_standin  # noqa: E402
from ml import artifacts  # noqa: E402
from ml.predict import Predictor, score_all  # noqa: E402
from warehouse.connection import bootstrap, connect  # noqa: E402
from warehouse.settings import get_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, method: str, n: int, concurrency: int, body=None) -> tuple[list, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                i = queue.get_nowait()
                payload = body(i) if callable(body) else body
                started = time.perf_counter()
                response = await c.request(method, url, json=payload)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 400

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{errors} of {n} requests to {url} failed")
    return latencies, n / elapsed


def start_api(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The API under uvicorn (one worker) on a free port, once /health answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return server, base


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


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ask-requests", type=int, default=60)
    parser.add_argument("--compiles", type=int, default=200)
    args = parser.parse_args()
    settings = get_settings()
    try:
        predictor = Predictor(artifacts.load_current(settings.artifacts_dir))
    except artifacts.ModelUnavailable as exc:
        raise SystemExit(f"{exc} (run `make demo` first)") from exc
    conn = connect(bootstrap(settings))
    with conn.cursor() as cur:
        cur.execute("select movie_id from marts.dim_movies order by movie_id")
        ids = [row[0] for row in cur.fetchall()]

    env = {
        **os.environ,
        "GEMINI_API_KEY": gemini_standin.STANDIN_KEY,
        "GEMINI_BASE_URL": gemini_standin.start(target_dir=settings.dbt_target_path),
        "ASK_REQUESTS_PER_MINUTE": "100000",
    }
    server, base = start_api(env)
    try:
        n, c = args.requests, args.concurrency
        health, health_rps = asyncio.run(load(f"{base}/health", "GET", n, c))
        predict, predict_rps = asyncio.run(
            load(f"{base}/predict", "POST", n, c, lambda i: {"movie_id": ids[i % len(ids)]})
        )
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
        batch_ids = [{"movie_id": ids[i % len(ids)]} for i in range(1000)]
        started = time.perf_counter()
        response = httpx.post(f"{base}/predict/batch", json={"items": batch_ids}, timeout=120)
        response.raise_for_status()
        batch_rps = 1000 / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait()
    compile_ms, guard_ms = compile_times(settings.dbt_target_path, args.compiles)
    started = time.perf_counter()
    scored = score_all(conn, predictor)
    score_rps = scored / (time.perf_counter() - started)
    conn.close()

    print(f"API latency ({os.cpu_count()} cores, 1 uvicorn worker, {len(ids):,} movies)")
    print(
        f"  /health        p50 {pct(health, 50):7.1f} ms  p99 {pct(health, 99):7.1f} ms"
        f"  {health_rps:8.1f} req/s (baseline)"
    )
    print(
        f"  /predict       p50 {pct(predict, 50):7.1f} ms  p99 {pct(predict, 99):7.1f} ms"
        f"  {predict_rps:8.1f} req/s at concurrency {c}"
    )
    print(f"  /predict / /health requests/s: {predict_rps / health_rps:.3f}")
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
    print(
        f"  batch scoring: /predict/batch {batch_rps:,.0f} rows/s; scorer {score_rps:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
