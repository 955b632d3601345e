"""`GET /metrics` and `POST /metrics/query` over the test warehouse."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse
from warehouse.settings import reset_settings_cache


def test_lists_metrics_and_dimensions_from_the_manifest(api) -> None:
    body = api().get("/metrics").json()
    metrics = {m["name"]: m for m in body["metrics"]}
    for name in ("movies", "total_revenue_usd", "average_rating", "success_rate", "median_roi"):
        assert metrics[name]["label"] and metrics[name]["description"], name
    assert "hit rate" in metrics["success_rate"]["synonyms"]
    assert "genre__genre_name" in metrics["success_rate"]["dimensions"]
    dimensions = {d["name"]: d for d in body["dimensions"]}
    assert dimensions["metric_time"]["type"] == "time"
    assert dimensions["movie__director_name"]["type"] == "categorical"


def test_query_answers_as_sql_over_the_marts_does(api, api_warehouse: ApiWarehouse) -> None:
    response = api().post(
        "/metrics/query",
        json={
            "metrics": ["movies", "total_revenue_usd"],
            "group_by": ["genre__genre_name"],
            "order_by": ["-movies", "genre__genre_name"],
            "limit": 5,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["genre__genre_name", "movies", "total_revenue_usd"]
    expected = query(
        api_warehouse.database_url,
        "select b.genre_name, count(*), sum(m.revenue_usd) from marts.bridge_movie_genres b"
        " join marts.dim_movies m using (movie_id) group by 1 order by 2 desc, 1 limit 5",
    )
    assert [[r[0], r[1], float(r[2])] for r in body["rows"]] == [
        [g, c, float(s)] for g, c, s in expected
    ]
    assert body["row_count"] == 5 and "marts" in body["sql"]


@pytest.mark.parametrize(
    ("body", "closest"),
    [
        ({"metrics": ["revenue_total"]}, "total_revenue_usd"),
        ({"metrics": ["movies"], "group_by": ["movie__directr_name"]}, "movie__director_name"),
    ],
)
def test_bad_names_answer_422_with_the_closest_names(api, body, closest) -> None:
    response = api().post("/metrics/query", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and closest in error["message"]


def test_a_hostile_where_is_refused(api) -> None:
    response = api().post(
        "/metrics/query",
        json={
            "metrics": ["movies"],
            "where": "{{ Dimension('movie__title') }} = '' or 1 in (select 1 from pg_shadow)",
        },
    )
    assert response.status_code == 422
    assert "where filter" in response.json()["error"]["message"]


def test_a_time_series_comes_in_time_order_unless_asked_otherwise(api) -> None:
    client = api()
    body = {"metrics": ["movies"], "group_by": ["metric_time__year"]}
    years = [row[0] for row in client.post("/metrics/query", json=body).json()["rows"]]
    dated = [year for year in years if year is not None]
    assert len(dated) > 3 and dated == sorted(dated) and years[: len(dated)] == dated
    body["order_by"] = ["-movies"]
    counts = [row[1] for row in client.post("/metrics/query", json=body).json()["rows"]]
    assert counts == sorted(counts, reverse=True)


def test_saved_queries_from_the_terminal_and_the_api(api, api_warehouse) -> None:
    listed = api().get("/metrics").json()["saved_queries"]
    by_name = {q["name"]: q for q in listed}
    assert len(by_name) >= 7 and by_name["success_rate_by_genre"]["description"]
    sent = api().post("/metrics/query", json=by_name["success_rate_by_genre"]["query"]).json()
    assert sent["columns"] == ["genre__genre_name", "labelled_movies", "success_rate"]
    rates = [row[2] for row in sent["rows"] if row[2] is not None]
    assert len(rates) > 3 and rates == sorted(rates, reverse=True)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", api_warehouse.database_url)
        mp.setenv("DBT_TARGET_PATH", str(api_warehouse.dbt_target))
        reset_settings_cache()
        runner = CliRunner()
        listing = runner.invoke(app, ["metrics", "list"])
        ran = runner.invoke(
            app, ["metrics", "query", "--saved-query", "movies_per_genre_in_the_1990s", "--csv"]
        )
        wrong = runner.invoke(app, ["metrics", "query", "--saved-query", "sucess_rate_by_genre"])
    reset_settings_cache()
    assert listing.exit_code == 0 and "movies_per_genre_in_the_1990s" in listing.output
    assert ran.exit_code == 0, ran.output
    assert ran.output.splitlines()[0] == "genre__genre_name,movies"
    assert wrong.exit_code == 1 and "success_rate_by_genre" in wrong.output
