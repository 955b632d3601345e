"""A bulk run killed with SIGKILL mid-way, then started again: exactly the right rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ingestion.lake import MOVIE_DETAILS, Lake
from ingestion.pipelines import run_bulk
from tests.conftest import REPO_ROOT, settings
from tests.ingestion.helpers import lake_records, raw_movie_ids


def test_kill_and_resume(fake_tmdb, database_url: str) -> None:
    server = fake_tmdb(movies=2400, latency_ms=5)
    expected = set(server.catalogue.movie_ids(include_adult=False))
    today = server.catalogue.today
    env = {**os.environ, "TMDB_RATE_LIMIT_RPS": "150"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ingest", "bulk", "--export-date", today.isoformat()],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lake = Lake(settings())
    deadline = time.monotonic() + 120
    while len(lake.list_files(MOVIE_DETAILS)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    landed_before = len(lake.list_files(MOVIE_DETAILS))
    assert 2 <= landed_before < 5  # killed mid-way: not everything was there

    summary = run_bulk(settings(), export_date=today)
    assert summary.chunks_skipped >= 2
    assert summary.fetched < len(expected)

    ids = raw_movie_ids(database_url)
    assert set(ids) == expected and set(ids.values()) == {1}
    assert {record["id"] for record in lake_records()} == expected
