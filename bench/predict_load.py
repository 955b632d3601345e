"""Load: 10,000 /predict requests at concurrency 64 against one uvicorn worker, with no error.

Prints errors (goal: 0), requests/s, p50/p99, and the ratio of requests/s to /health under the
same load (the framework's own ceiling, measured in the same run). Needs a built warehouse and a
trained model (`make demo` first). Run: .venv/bin/python bench/predict_load.py [--requests 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_latency import load, pct, start_api  # noqa: E402
from warehouse.connection import bootstrap, connect  # noqa: E402
from warehouse.settings import get_settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    conn = connect(bootstrap(get_settings()))
    with conn.cursor() as cur:
        cur.execute("select movie_id from marts.dim_movies order by movie_id")
        ids = [row[0] for row in cur.fetchall()]
    conn.close()
    server, base = start_api(dict(os.environ))
    try:
        n, c = args.requests, args.concurrency
        _, health_rps = asyncio.run(load(f"{base}/health", "GET", min(n, 3000), c))
        predict, predict_rps = asyncio.run(
            load(f"{base}/predict", "POST", n, c, lambda i: {"movie_id": ids[i % len(ids)]})
        )
    finally:
        server.terminate()
        server.wait()
    print(f"/predict load: {n:,} requests at concurrency {c} ({os.cpu_count()} cores, 1 worker)")
    print("  errors: 0 (any error aborts the run)")
    p50, p99 = pct(predict, 50), pct(predict, 99)
    print(f"  /predict {predict_rps:,.1f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"  /health  {health_rps:,.1f} req/s (baseline); ratio {predict_rps / health_rps:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
