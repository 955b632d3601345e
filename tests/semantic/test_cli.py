"""`tmdb metrics list` and `tmdb metrics query` against the test warehouse."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse
from warehouse.settings import reset_settings_cache


@pytest.fixture
def tmdb(api_warehouse: ApiWarehouse, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", api_warehouse.database_url)
    monkeypatch.setenv("DBT_TARGET_PATH", str(api_warehouse.dbt_target))
    reset_settings_cache()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_list_shows_every_metric_with_its_description(tmdb) -> None:
    result = tmdb("metrics", "list")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for name in ("success_rate", "median_roi", "total_revenue_usd", "genre__genre_name"):
        assert name in flat
    assert "Share of labelled movies" in flat


def test_query_prints_what_hand_written_sql_gives(tmdb, api_warehouse: ApiWarehouse) -> None:
    result = tmdb(
        "metrics", "query", "--metrics", "success_rate", "--group-by", "metric_time__year",
        "--order-by", "metric_time__year", "--csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["metric_time__year", "success_rate"]
    printed = {row[0][:4]: float(row[1]) for row in rows[1:] if row[0] and row[1]}
    expected = {
        str(year): rate
        for year, rate in query(
            api_warehouse.database_url,
            "select extract(year from release_date)::int, count(*) filter (where"
            " is_commercial_success)::float / count(is_commercial_success) from marts.dim_movies"
            " where is_commercial_success is not null and release_date is not null group by 1",
        )
    }
    assert len(expected) > 3
    assert printed.keys() == expected.keys()
    for year, rate in expected.items():
        assert printed[year] == pytest.approx(rate)


def test_explain_prints_the_sql_and_bad_names_fail_in_one_line(tmdb) -> None:
    result = tmdb("metrics", "query", "--metrics", "movies", "--explain")
    assert result.exit_code == 0
    # the count of movies sums its rollup; a median reads every movie
    assert 'from "marts"."agg_movies_by_year"' in result.output.lower()
    assert "as movies" in result.output.lower()
    median = tmdb("metrics", "query", "--metrics", "median_roi", "--explain")
    assert median.exit_code == 0
    assert 'from "marts"."dim_movies"' in median.output.lower()
    bad = tmdb("metrics", "query", "--metrics", "movis")
    assert bad.exit_code == 1
    assert "unknown metric 'movis'" in bad.output and "movies" in bad.output
    assert "Traceback" not in bad.output
