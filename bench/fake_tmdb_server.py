"""Throughput of the local TMDB server, which every ingestion test and bench leans on.

Figures, each with its baseline measured in the same run:
1. Building the synthetic catalogue (3,000 movies), against building one of 300.
2. Detail requests/s from 30 concurrent keep-alive clients, with 20 ms of latency per request,
   as a ratio to the ceiling that latency allows one client (50 requests/s): the ratio says how
   much concurrency the server really delivers (30 would be perfect). Goal: >= 200 requests/s.

Run: .venv/bin/python bench/fake_tmdb_server.py
Not part of `make test`: speed is measured here, tests assert behaviour.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN  # noqa: E402
from ingestion.fake_tmdb.catalogue import Catalogue  # noqa: E402
from ingestion.fake_tmdb.server import FakeTmdbServer  # noqa: E402

ANCHOR = date(2026, 1, 15)
CLIENTS = 30
LATENCY_MS = 20.0


def _build_seconds(movies: int) -> float:
    started = time.perf_counter()
    Catalogue(123, movies, today=ANCHOR)
    return time.perf_counter() - started


def _requests_per_second(catalogue: Catalogue, requests: int) -> tuple[float, int]:
    ids = catalogue.movie_ids()[:requests]
    headers = {"Authorization": f"Bearer {FAKE_TMDB_TOKEN}"}
    with FakeTmdbServer(catalogue, latency_ms=LATENCY_MS) as server:
        clients = [httpx.Client(base_url=server.url, headers=headers) for _ in range(CLIENTS)]
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                codes = list(
                    pool.map(
                        lambda i: clients[i % CLIENTS].get(f"/3/movie/{ids[i]}").status_code,
                        range(len(ids)),
                    )
                )
            elapsed = time.perf_counter() - started
        finally:
            for client in clients:
                client.close()
        assert codes == [200] * len(ids), "every request must succeed"
        return len(ids) / elapsed, server.peak_in_flight


def main() -> None:
    small, large = _build_seconds(300), _build_seconds(3000)
    print(f"catalogue of 3,000: {large:.2f} s; of 300: {small:.2f} s; ratio {large / small:.1f}")
    catalogue = Catalogue(123, 3000, today=ANCHOR)
    rate, peak = _requests_per_second(catalogue, 1500)
    ceiling = 1000.0 / LATENCY_MS
    print(
        f"{CLIENTS} clients, {LATENCY_MS:.0f} ms latency: {rate:.1f} requests/s "
        f"(goal >= 200), {rate / ceiling:.1f}x one client's ceiling of {ceiling:.0f}/s, "
        f"peak {peak} in flight"
    )


if __name__ == "__main__":
    main()
