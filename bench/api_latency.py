"""API latency and throughput, each against a baseline measured in the same run.

1. /predict (by movie id) p50/p99 and requests/s at concurrency 32, and the ratio of its
   requests/s to /health's (the framework's own ceiling on this machine).
2. /ask overhead with a zero-latency LLM stand-in: everything but the model's thinking time
   (prompt, SDK, guard, query as tmdb_analyst, answer). Goal: p50 <= 30 ms.
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


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--ask-requests", type=int, default=60)
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
        "GEMINI_BASE_URL": gemini_standin.start(),
        "ASK_REQUESTS_PER_MINUTE": "100000",
    }
    server, base = start_api(env)
    try:
        n, c = args.requests, args.concurrency
        health, health_rps = asyncio.run(load(f"{base}/health", "GET", n, c))
        predict, predict_rps = asyncio.run(
            load(f"{base}/predict", "POST", n, c, lambda i: {"movie_id": ids[i % len(ids)]})
        )
        questions = [
            "Which 10 movies had the highest return on investment?",
            "What is the success rate by genre?",
            "How many movies were released each year since 2010?",
        ]
        ask, _ = asyncio.run(
            load(
                f"{base}/ask-text",
                "POST",
                args.ask_requests,
                1,
                lambda i: {"question": f"{questions[i % 3]} (variant {i})"},
            )
        )
        batch_ids = [{"movie_id": ids[i % len(ids)]} for i in range(1000)]
        started = time.perf_counter()
        response = httpx.post(f"{base}/predict/batch", json={"items": batch_ids}, timeout=120)
        response.raise_for_status()
        batch_rps = 1000 / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait()
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
    print(
        f"  /ask overhead (zero-latency LLM, uncached) p50 {pct(ask, 50):.1f} ms"
        f"  p99 {pct(ask, 99):.1f} ms  (goal p50 <= 30 ms)"
    )
    print(
        f"  batch scoring: /predict/batch {batch_rps:,.0f} rows/s; scorer {score_rps:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
