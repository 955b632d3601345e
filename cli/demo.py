"""`make demo`: the whole product on a fresh machine, in order (README "Quick start").

Without TMDB credentials it starts the local TMDB server (its data is synthetic, and says so),
one day ahead of the backfill's export so the daily increment has real changes to pick up.
Everything it starts is stopped on exit or Ctrl-C; the warehouse keeps running for queries.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from warehouse.settings import Settings

DEMO_MOVIES = 3000
DEMO_SEED = 42
DEMO_LIMIT_WITH_REAL_TMDB = 3000
# The local server has no real limit; the client's ceiling is raised unless the user set one.
LOCAL_TMDB_RATE_LIMIT_RPS = 400.0
FAKE_TMDB_PORT = 8765
API_HOST = "127.0.0.1"
API_PORT = 8000
EXAMPLE_QUESTIONS = (
    "What is the success rate by genre?",
    "Which 10 movies had the highest return on investment?",
    "How many movies were released each year since 2010?",
)
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."

console = Console(soft_wrap=True)


def _free_port(preferred: int) -> int:
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the local TMDB server did not come up at {url}")


def start_local_tmdb(settings: Settings) -> tuple[Settings, date]:
    """Start `tmdb fake-tmdb` one day ahead; returns the settings pointed at it and the date of
    the export to backfill from."""
    from pydantic import SecretStr

    from ingestion.fake_tmdb import FAKE_TMDB_TOKEN

    port = _free_port(FAKE_TMDB_PORT)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "fake-tmdb", "--port", str(port),
         "--movies", str(DEMO_MOVIES), "--seed", str(DEMO_SEED), "--day", "1"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    atexit.register(_stop, process)
    base = f"http://127.0.0.1:{port}"
    _wait_for(f"{base}/3/configuration")
    local = {
        "tmdb_api_base_url": f"{base}/3",
        "tmdb_exports_base_url": f"{base}/p/exports",
        "tmdb_api_token": SecretStr(FAKE_TMDB_TOKEN),
    }
    if "tmdb_rate_limit_rps" not in settings.model_fields_set:
        local["tmdb_rate_limit_rps"] = LOCAL_TMDB_RATE_LIMIT_RPS
    console.print(
        f"[bold yellow]No TMDB credentials: using the local TMDB server at {base}. "
        "All data in this demo is SYNTHETIC.[/]"
    )
    return settings.model_copy(update=local), datetime.now(UTC).date() - timedelta(days=1)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(settings: Settings) -> int:
    from cli.errors import expected_failure
    from cli.refresh import refresh
    from ingestion.pipelines import run_bulk
    from ingestion.progress import RichProgress
    from warehouse.connection import bootstrap

    console.print(f"[bold]TMDB movie analytics demo[/]  ({ATTRIBUTION})")
    try:
        url = bootstrap(settings)
        where = "embedded PostgreSQL" if settings.database_url is None else "DATABASE_URL"
        console.print(f"warehouse: {where} ready")
        if settings.has_tmdb_credentials:
            export_date, limit = None, DEMO_LIMIT_WITH_REAL_TMDB
            console.print(f"TMDB credentials found: backfilling the {limit:,} most popular movies")
        else:
            limit = None
            settings, export_date = start_local_tmdb(settings)

        bulk = run_bulk(
            settings, export_date=export_date, limit=limit, progress=RichProgress(console)
        )
        for line in bulk.lines():
            console.print(line, highlight=False)
        # The daily increment goes through `tmdb refresh`, as a scheduler runs it: change feed,
        # freshness, dbt build into the shadow marts, training (no model yet) and scoring, the
        # swap, the docs.
        console.print(
            "[bold]tmdb refresh[/] (daily increment → freshness → dbt build → train → score →"
            " swap → docs)"
        )
        summary = refresh(
            settings,
            progress=lambda line: console.print(f"  {line}", highlight=False, markup=False),
            since=bulk.export_date,
        )
        for line in summary.lines():
            console.print(line, highlight=False, markup=False)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    except Exception as exc:
        expected = expected_failure(exc)
        if expected is None:
            raise
        console.print(f"[bold red]error:[/] {expected}", highlight=False)
        return 1

    if not settings.gemini_api_key:
        console.print(
            "[bold yellow]No GEMINI_API_KEY: questions are answered by the built-in engine"
            " (deterministic, over the semantic layer; it refuses what it cannot map). Set"
            " GEMINI_API_KEY for Gemini.[/]"
        )
    print_urls(settings, url)
    import uvicorn

    from api.main import create_app

    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(create_app(settings), host=API_HOST, port=API_PORT, log_level="warning")
    return 0


def _sample_movie(url: str) -> tuple[int, str]:
    from warehouse.connection import connect

    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select movie_id, coalesce(primary_genre, 'Drama') from marts.dim_movies"
                " order by popularity desc nulls last, movie_id limit 1"
            )
            return cur.fetchone()
    finally:
        conn.close()


def print_urls(settings: Settings, url: str) -> None:
    from warehouse.connection import analyst_url

    base = f"http://{API_HOST}:{API_PORT}"
    movie_id, genre = _sample_movie(url)
    key = ' -H "X-API-Key: $API_KEY"' if settings.api_keys else ""

    def post(path: str, payload: dict, extra: str = "") -> str:
        body = json.dumps(payload).replace("'", "'\\''")
        return f"curl -s{key}{extra} -H 'Content-Type: application/json' {base}{path} -d '{body}'"

    description = {
        "title": "My new film",
        "budget_usd": 40_000_000,
        "release_date": "2027-05-14",
        "genres": [genre],
        "original_language": "en",
        "us_certification": "PG-13",
    }
    console.print()
    console.print("[bold green]Ready.[/] " + ATTRIBUTION)
    console.print(f"  web page:      {base}/")
    console.print(f"  API docs:      {base}/docs")
    console.print(f"  dbt docs:      {base}/dbt-docs/")
    console.print(f'  marts (psql):  psql "{analyst_url(settings)}"', highlight=False)
    console.print("\nTry:", highlight=False)
    for line in (
        f"curl -s {base}/health",
        f"curl -s {base}/models/current",
        post("/predict", {"movie_id": movie_id}),
        post("/predict", description),
        post("/predict/batch", {"items": [{"movie_id": movie_id}, description]}),
        *(post("/ask", {"question": q}) for q in EXAMPLE_QUESTIONS),
        post("/ask-text", {"question": EXAMPLE_QUESTIONS[1]}),
        post("/ask-visual", {"question": EXAMPLE_QUESTIONS[0]}, " -H 'Accept: image/png'")
        + " -o chart.png",
    ):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print("\nCtrl-C stops the API and the local TMDB server; the warehouse keeps running.")


if __name__ == "__main__":
    from warehouse.settings import get_settings

    sys.exit(main(get_settings()))
