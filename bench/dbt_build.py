"""dbt: how long `dbt build` (every model, data test and unit test) takes on the warehouse, as a
ratio of `dbt parse` (dbt's fixed start-up cost, measured in the same run), and movies/s.

Needs a loaded warehouse (`make demo` first). Run: .venv/bin/python bench/dbt_build.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warehouse.connection import bootstrap, connect  # noqa: E402
from warehouse.dbt_runner import run_dbt  # noqa: E402
from warehouse.settings import Settings, get_settings  # noqa: E402


def timed(settings: Settings, args: list[str]) -> float:
    started = time.perf_counter()
    run_dbt(settings, [*args, "--quiet"])
    return time.perf_counter() - started


def main() -> int:
    # Artefacts of these runs go to a scratch folder, not the project's target/.
    scratch = Path(tempfile.mkdtemp(prefix="tmdb-bench-dbt-"))
    settings = get_settings().model_copy(update={"dbt_target_dir": scratch / "target"})
    conn = connect(bootstrap(settings))
    with conn.cursor() as cur:
        cur.execute("select count(*) from raw_tmdb.movies")
        movies = cur.fetchone()[0]
    conn.close()
    parse = timed(settings, ["parse", "--no-partial-parse"])
    build = timed(settings, ["build", "--full-refresh"])
    incremental = timed(settings, ["build"])
    print(f"dbt ({os.cpu_count()} cores, {movies:,} raw movies, 4 threads)")
    print(f"  dbt parse (baseline)        {parse:6.1f} s")
    print(
        f"  dbt build --full-refresh    {build:6.1f} s  ({build / parse:.1f}x parse,"
        f" {movies / build:,.0f} movies/s)"
    )
    print(f"  dbt build (incremental)     {incremental:6.1f} s  ({incremental / parse:.1f}x parse)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
