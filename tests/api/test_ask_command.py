"""`tmdb ask` gives the same answer as POST /ask, in the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import builtin_ask, sql_then_text
from tests.conftest import REPO_ROOT

TOP_ROI = "select title, roi from marts.dim_movies where roi is not null order by roi desc limit 5"


def test_tmdb_ask_prints_the_answer_and_writes_the_chart(
    api, gemini, api_warehouse, tmp_path: Path
) -> None:
    gemini.respond_with(sql_then_text(TOP_ROI, answer="Five movies stand out."))
    expected = api().post("/ask", json={"question": "Best ROI?"}).json()
    env = {
        **os.environ,
        "DATABASE_URL": api_warehouse.database_url,
        "DBT_TARGET_PATH": str(api_warehouse.dbt_target),
        "GEMINI_API_KEY": "test-gemini-key",
        "GEMINI_BASE_URL": gemini.url,
    }
    chart = tmp_path / "roi.png"
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "ask", "Best ROI?", "--chart", str(chart)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Five movies stand out." in result.stdout
    assert expected["rows"][0][0] in result.stdout  # the top title, as /ask returned it
    assert "5 rows" in result.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_tmdb_ask_without_a_key_uses_the_builtin_engine(api_warehouse) -> None:
    answered = builtin_ask(api_warehouse, "How many movies are there?")
    assert answered.returncode == 0, answered.stderr
    assert "Movies:" in answered.stdout and "1 rows" in answered.stdout
    refused = builtin_ask(api_warehouse, "Anything?")
    assert refused.returncode == 1
    assert "could not place" in refused.stderr and "Traceback" not in refused.stderr
