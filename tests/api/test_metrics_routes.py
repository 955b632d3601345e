"""`GET /metrics` and `POST /metrics/query` over the test warehouse."""

from __future__ import annotations

import pytest

from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse


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
