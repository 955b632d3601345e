"""Ingestion throughput against the local TMDB server with 20 ms latency per request.

Figures, each with its baseline measured in the same run:
1. End-to-end movies/s with no rate limit (fetch + lake + warehouse), and the ratio to fetching
   alone (the same ids, same server, nothing landed). Goal: >= 150 movies/s on 2 cores.
2. Achieved requests/s under a 40 requests/s limit (client and server both enforce it), as a
   ratio of the limit. Goal: >= 0.9, with every movie landed and none lost.

Run: .venv/bin/python bench/ingest_throughput.py [--movies 3000] [--limited-movies 800]
Not part of `make test`: it takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN  # noqa: E402
from ingestion.tmdb.client import RequestStats, TmdbClient  # noqa: E402
from ingestion.tmdb.exports import download_export  # noqa: E402
from warehouse import embedded  # noqa: E402
from warehouse.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(movies: int, latency_ms: float, rate_limit: float | None) -> tuple:
    port = free_port()
    args = [sys.executable, "-m", "cli.main", "fake-tmdb", "--port", str(port)]
    args += ["--movies", str(movies), "--latency-ms", str(latency_ms), "--seed", "1"]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/3/configuration", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, base


def configure(base: str, workdir: Path, database_url: str, rps: float) -> Settings:
    """The product's settings for one run against the local server (the environment untouched)."""
    return Settings().model_copy(
        update={
            "tmdb_api_base_url": f"{base}/3",
            "tmdb_exports_base_url": f"{base}/p/exports",
            "tmdb_api_token": SecretStr(FAKE_TMDB_TOKEN),
            "tmdb_rate_limit_rps": rps,
            "state_dir": workdir / "state",
            "lake_url": str(workdir / "lake"),
            "database_url": SecretStr(database_url),
        }
    )


def fresh_database(server_url: str, name: str) -> str:
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
        cur.execute(f'create database "{name}"')
    conn.close()
    return server_url.replace("/tmdb?", f"/{name}?")


async def fetch_only(base: str, ids: list[int], concurrency: int) -> float:
    """Baseline: details for every id with the same client, nothing landed."""
    started = time.monotonic()
    async with TmdbClient(
        f"{base}/3", token=FAKE_TMDB_TOKEN, max_concurrency=concurrency, stats=RequestStats()
    ) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for movie_id in ids:
            queue.put_nowait(movie_id)

        async def worker() -> None:
            while not queue.empty():
                await client.movie_details(queue.get_nowait())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(ids) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=3000)
    parser.add_argument("--limited-movies", type=int, default=800)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--limit-rps", type=float, default=40.0)
    args = parser.parse_args()

    from ingestion.pipelines import run_bulk

    workdir = Path(tempfile.mkdtemp(prefix="tmdb-bench-"))
    pg_url = embedded.start(workdir / "pg")
    figures: list[tuple[str, str]] = []
    try:
        # 1. no limit: end to end vs fetch only
        process, base = start_server(args.movies, args.latency_ms, None)
        try:
            concurrency = Settings().tmdb_max_concurrency
            ids = download_export(f"{base}/p/exports", None, workdir / "export.jsonl.gz").ids
            baseline = asyncio.run(fetch_only(base, ids, concurrency))
            e2e_settings = configure(
                base, workdir / "e2e", fresh_database(pg_url, "bench_e2e"), 1_000_000
            )
            started = time.monotonic()
            summary = run_bulk(e2e_settings)
            e2e = summary.fetched / (time.monotonic() - started)
        finally:
            process.terminate()
            process.wait()
        figures += [
            ("movies (no limit)", f"{summary.fetched:,} of {len(ids):,} ids"),
            ("fetch only (baseline)", f"{baseline:,.1f} movies/s"),
            ("end to end: fetch + lake + warehouse", f"{e2e:,.1f} movies/s (goal >= 150)"),
            ("end to end / fetch only", f"{e2e / baseline:.2f}"),
        ]

        # 2. under a 40 rps limit enforced by both sides
        process, base = start_server(args.limited_movies, args.latency_ms, args.limit_rps)
        try:
            limited = configure(
                base, workdir / "limited", fresh_database(pg_url, "bench_lim"), args.limit_rps
            )
            summary = run_bulk(limited)
            achieved = summary.stats.requests_per_second()
            conn = psycopg2.connect(limited.database_url.get_secret_value())
            with conn.cursor() as cur:
                cur.execute("select count(*) from raw_tmdb.movies")
                landed = cur.fetchone()[0]
            conn.close()
        finally:
            process.terminate()
            process.wait()
        figures += [
            (f"limit {args.limit_rps:g} requests/s: achieved", f"{achieved:,.1f} requests/s"),
            ("achieved / limit", f"{achieved / args.limit_rps:.3f} (goal >= 0.9)"),
            ("429 answers", f"{summary.stats.rate_limited}"),
            ("landed / selected", f"{landed:,} / {summary.ids_selected:,}"),
        ]
    finally:
        embedded.stop(workdir / "pg")
        shutil.rmtree(workdir, ignore_errors=True)

    width = max(len(name) for name, _ in figures)
    print(f"ingestion throughput ({os.cpu_count()} cores, {args.latency_ms:g} ms latency)")
    for name, value in figures:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
