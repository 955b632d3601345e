"""/predict speed, each figure against its goal and a baseline measured in the same run.

Over HTTP (one uvicorn worker):
- by movie id at concurrency 32: requests/s as a share of /health's under the same load (goal
  >= 0.5; /health also makes a warehouse round trip, so it is the framework's own ceiling);
- by movie id one request at a time: p99 (goal < 20 ms). At concurrency 32 a request's
  latency is mostly its wait in the queue (Little's law: 32 / requests/s), so the latency goal
  is measured without that queue; the loaded p50/p99 are printed beside /health's;
- a pre-release description one at a time: p50 (goal < 15 ms);
- /predict/batch of 1,000 descriptions: seconds (goal < 1 s).
In process, on the same movies: the explanation the way it was made before (frames through the
fitted pipeline's `predict_proba`) against the vectorised explainer, and the stored-score
lookup. Needs a built, scored warehouse and a trained model (`make demo` first).

Run: .venv/bin/python bench/predict_load.py [--requests 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import load, pct, start_api  # noqa: E402
from ml import artifacts  # noqa: E402
from ml.feature_sql import description_rules  # noqa: E402
from ml.features import MovieDescription, load_feature_rows  # noqa: E402
from ml.predict import Predictor  # noqa: E402
from warehouse.connection import bootstrap, connect  # noqa: E402
from warehouse.settings import get_settings  # noqa: E402

DESCRIBED = """
select movies.director_name, movies.budget_usd, features.genre_names,
    movies.original_language, movies.us_certification, movies.runtime_minutes
from marts.dim_movies as movies
join marts.ml_movie_features as features using (movie_id)
where movies.budget_usd > 0 and cardinality(features.genre_names) > 0
order by movies.movie_id
limit 1000
"""


@dataclass
class PredictFigures:
    health: list[float]
    health_rps: float
    by_id: list[float]
    by_id_rps: float
    health_alone: list[float]
    by_id_alone: list[float]
    described_alone: list[float]
    batch_seconds: float
    concurrency: int


def catalogue_inputs(conn) -> tuple[list[int], list[dict]]:
    """Movie ids, and 1,000 descriptions made from catalogued movies' pre-release facts (their
    directors exist, so track records are looked up) set in a future year."""
    with conn.cursor() as cur:
        cur.execute("select movie_id from marts.dim_movies order by movie_id")
        ids = [row[0] for row in cur.fetchall()]
        cur.execute(DESCRIBED)
        facts = cur.fetchall()
    descriptions = [
        {
            "release_date": f"2031-{1 + i % 12:02d}-15",
            "budget_usd": int(budget),
            "genres": list(genres),
            "director": director,
            "original_language": language,
            "us_certification": certification,
            "runtime_minutes": runtime,
        }
        for i, (director, budget, genres, language, certification, runtime) in enumerate(facts)
    ]
    descriptions = [{k: v for k, v in d.items() if v is not None} for d in descriptions]
    return ids, (descriptions * (1000 // max(len(descriptions), 1) + 1))[:1000]


def measure(base: str, ids: list[int], descriptions: list[dict], n: int, c: int):
    health, health_rps = asyncio.run(load(f"{base}/health", "GET", n, c))
    by_id, by_id_rps = asyncio.run(
        load(f"{base}/predict", "POST", n, c, lambda i: {"movie_id": ids[i % len(ids)]})
    )
    alone = min(n, 500)
    health_alone, _ = asyncio.run(load(f"{base}/health", "GET", alone, 1))
    by_id_alone, _ = asyncio.run(
        load(f"{base}/predict", "POST", alone, 1, lambda i: {"movie_id": ids[i % len(ids)]})
    )
    described_alone, _ = asyncio.run(
        load(f"{base}/predict", "POST", alone, 1, lambda i: descriptions[i % len(descriptions)])
    )
    httpx.post(f"{base}/predict/batch", json={"items": descriptions[:10]}, timeout=60)
    started = time.perf_counter()
    response = httpx.post(f"{base}/predict/batch", json={"items": descriptions}, timeout=120)
    response.raise_for_status()
    batch_seconds = time.perf_counter() - started
    if len(response.json()["predictions"]) != len(descriptions):
        raise SystemExit("the batch did not answer every description")
    return PredictFigures(
        health, health_rps, by_id, by_id_rps, health_alone, by_id_alone, described_alone,
        batch_seconds, c,
    )  # fmt: skip


def report(f: PredictFigures) -> None:
    ratio = f.by_id_rps / f.health_rps
    print(f"  at concurrency {f.concurrency}:")
    print(
        f"    /health          {f.health_rps:8.1f} req/s  p50 {pct(f.health, 50):6.1f} ms"
        f"  p99 {pct(f.health, 99):6.1f} ms  (baseline)"
    )
    print(
        f"    /predict by id   {f.by_id_rps:8.1f} req/s  p50 {pct(f.by_id, 50):6.1f} ms"
        f"  p99 {pct(f.by_id, 99):6.1f} ms"
    )
    print(f"    /predict ÷ /health requests/s: {ratio:.3f} (goal >= 0.5) {_verdict(ratio >= 0.5)}")
    print("  one request at a time:")
    print(
        f"    /health          p50 {pct(f.health_alone, 50):6.1f} ms"
        f"  p99 {pct(f.health_alone, 99):6.1f} ms  (baseline)"
    )
    p99 = pct(f.by_id_alone, 99)
    print(
        f"    /predict by id   p50 {pct(f.by_id_alone, 50):6.1f} ms  p99 {p99:6.1f} ms"
        f" (goal p99 < 20 ms) {_verdict(p99 < 20)}"
    )
    p50 = pct(f.described_alone, 50)
    print(
        f"    /predict described p50 {p50:6.1f} ms  p99 {pct(f.described_alone, 99):6.1f} ms"
        f" (goal p50 < 15 ms) {_verdict(p50 < 15)}; {p50 / pct(f.health_alone, 50):.1f}x /health"
    )
    print(
        f"  /predict/batch of 1,000 descriptions: {f.batch_seconds:.2f} s (goal < 1 s)"
        f" {_verdict(f.batch_seconds < 1)}"
    )


def in_process(conn, predictor: Predictor, descriptions: list[dict]) -> None:
    """The explanation as it was made before against the explainer and the lookup, in ms.
    A thousand movies at once gain nothing: the explainer keeps OpenMP to one thread, which on
    an idle machine gives up the second core, and on a busy one avoids spinning threads."""
    rows = load_feature_rows(conn).iloc[:1000].reset_index(drop=True)
    before = copy.copy(predictor)
    before.explainer = None
    ids = [int(i) for i in rows["movie_id"]]
    rules = description_rules(get_settings())
    described = [
        MovieDescription(**{**d, "release_date": date.fromisoformat(d["release_date"])})
        for d in descriptions
    ]
    cases = {
        "explain 1 movie": lambda p: p.explain(rows.iloc[:1]),
        "explain 1,000 movies": lambda p: p.explain(rows),
        "describe 1 movie (SQL included)": lambda p: p.predict_descriptions(
            conn, described[:1], rules
        ),
        "describe 1,000 movies (SQL included)": lambda p: p.predict_descriptions(
            conn, described, rules
        ),
    }
    print("  in process, the same movies (median ms):")
    for name, call in cases.items():
        old, new = _median_ms(lambda c=call: c(before)), _median_ms(lambda c=call: c(predictor))
        print(f"    {name:38s} before {old:8.2f}  now {new:8.2f}  speed-up {old / new:5.1f}x")
    scored = len(predictor.stored(conn, ids[:1]))
    lookup = _median_ms(lambda: predictor.predict_movies(conn, ids[:1]))
    print(
        f"    {'a scored movie by id (lookup)':38s} {lookup:.2f} ms"
        + ("" if scored else "  (not scored yet: run `tmdb score`)")
    )


def _median_ms(call, repeat: int = 7) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def current_predictor(settings) -> Predictor:
    """The served model, or an exit saying how to get one."""
    try:
        return Predictor(artifacts.load_current(settings.artifacts_dir))
    except artifacts.ModelUnavailable as exc:
        raise SystemExit(f"{exc} (run `make demo` first)") from exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    settings = get_settings()
    predictor = current_predictor(settings)
    conn = connect(bootstrap(settings))
    ids, descriptions = catalogue_inputs(conn)
    server, base = start_api(dict(os.environ))
    try:
        figures = measure(base, ids, descriptions, args.requests, args.concurrency)
    finally:
        server.terminate()
        server.wait()
    print(
        f"/predict ({os.cpu_count()} cores, 1 uvicorn worker, {len(ids):,} movies,"
        f" model {predictor.version}, {args.requests:,} requests per load)"
    )
    report(figures)
    in_process(conn, predictor, descriptions)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
