"""Rollups answer exactly what the semantic models answer, and only what they can.

Every metric a rollup holds, by every dimension it holds (and with filters, orders and limits),
compiled once onto the rollups and once onto the semantic models and run as `tmdb_analyst` on
the test catalogue: the same rows, the same types. Queries with any part outside the rollups
(a median, the director, a month, the movie itself) are compiled onto the semantic models.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

from api.semantic import engine, rollup
from api.semantic.query import MetricQuery
from api.semantic.service import SemanticLayer

ROLLED_METRICS = (
    "movies",
    "total_revenue_usd",
    "total_budget_usd",
    "total_profit_usd",
    "average_budget_usd",
    "average_revenue_usd",
    "average_profit_usd",
    "average_runtime_minutes",
    "average_rating",
    "total_votes",
    "average_popularity",
    "commercial_successes",
    "labelled_movies",
    "success_rate",
)
ROLLED_GROUP_BYS = (
    [],
    ["movie__original_language"],
    ["movie__status"],
    ["movie__primary_genre"],
    ["movie__us_certification"],
    ["movie__is_commercial_success"],
    ["movie__is_financially_reliable"],
    ["movie__release_year"],
    ["movie__release_decade"],
    ["metric_time__year"],
    ["movie__release_date__year"],
    ["movie__primary_genre", "metric_time__year"],
)
YEAR = "{{ TimeDimension('metric_time', 'year') }}"
GENRE = "{{ Dimension('movie__primary_genre') }}"


def _key(value: object) -> object:
    return round(value, 6) if isinstance(value, float) else value


def _same_rows(expected: list[list], actual: list[list]) -> None:
    """The same rows in any order, numbers to 1e-9 relative and of the same kind."""
    assert len(expected) == len(actual)
    by_keys = Counter(tuple(_key(v) for v in row if not isinstance(v, float)) for row in expected)
    assert by_keys == Counter(
        tuple(_key(v) for v in row if not isinstance(v, float)) for row in actual
    )
    ordered = sorted(expected, key=repr), sorted(actual, key=repr)
    for want, got in zip(*ordered, strict=True):
        for a, b in zip(want, got, strict=True):
            assert type(a) is type(b), (want, got)
            if isinstance(a, float):
                assert math.isclose(a, b, rel_tol=1e-9), (want, got)
            else:
                assert a == b, (want, got)


def _both(layer: SemanticLayer, query: MetricQuery) -> tuple[str, list, list]:
    assert layer.executor is not None
    rolled = layer.compile(query)
    direct = layer.compile(query, rollups=False)
    assert "agg_" not in direct.sql
    rows = layer.executor.run(rolled.sql, rolled.rows)
    base = layer.executor.run(direct.sql, direct.rows)
    assert rows.columns == base.columns
    return rolled.sql, base.rows, rows.rows


@pytest.mark.parametrize("group_by", ROLLED_GROUP_BYS, ids=lambda g: "+".join(g) or "total")
def test_each_metric_by_each_rolled_dimension_is_answered_the_same(
    layer: SemanticLayer, group_by: list[str]
) -> None:
    for metric in ROLLED_METRICS:
        sql, expected, actual = _both(layer, MetricQuery(metrics=[metric], group_by=group_by))
        assert "agg_movies_by_year" in sql, (metric, group_by)
        assert expected, (metric, group_by)
        _same_rows(expected, actual)


@pytest.mark.parametrize(
    "body",
    [
        # by genre: the genre twins, over the per-genre rollup
        {"metrics": ["average_budget_usd", "average_rating"], "group_by": ["genre__genre_name"]},
        {"metrics": ["total_revenue_usd", "success_rate"], "group_by": ["genre__genre_name"]},
        {
            "metrics": ["commercial_successes"],
            "group_by": ["genre__genre_name", "metric_time__year"],
        },
        {
            "metrics": ["total_revenue_usd"],
            "group_by": ["metric_time__year"],
            "where": ["{{ Dimension('genre__genre_name') }} = 'Drama'"],
        },
        # filters, several metrics, orders and limits
        {
            "metrics": ["success_rate"],
            "group_by": ["metric_time__year"],
            "where": [f"{YEAR} >= '2000-01-01'"],
        },
        {
            "metrics": ["movies", "average_rating"],
            "group_by": ["movie__primary_genre"],
            "where": [f"{GENRE} in ('Drama', 'Comedy')"],
        },
        {
            "metrics": ["movies"],
            "where": ["{{ Dimension('movie__us_certification') }} = 'R'", f"{YEAR} < '2010-01-01'"],
        },
        {
            "metrics": ["total_revenue_usd"],
            "group_by": ["movie__original_language"],
            "order_by": ["-total_revenue_usd"],
            "limit": 3,
        },
        {
            "metrics": ["movies", "total_budget_usd"],
            "group_by": ["movie__release_decade"],
            "order_by": ["movie__release_decade"],
        },
        {
            "metrics": ["average_runtime_minutes"],
            "group_by": ["movie__status"],
            "where": ["{{ Dimension('movie__is_financially_reliable') }}"],
        },
    ],
)
def test_filtered_ordered_and_per_genre_queries_are_answered_the_same(
    layer: SemanticLayer, body: dict
) -> None:
    sql, expected, actual = _both(layer, MetricQuery(**body))
    assert "agg_movie" in sql
    assert expected
    if body.get("order_by"):
        assert [row[0] for row in actual] == [row[0] for row in expected]
    _same_rows(expected, actual)


@pytest.mark.parametrize(
    "body",
    [
        {"metrics": ["median_roi"], "group_by": ["movie__original_language"]},
        {"metrics": ["movies", "median_roi"], "group_by": ["movie__primary_genre"]},
        {"metrics": ["directors"]},
        {"metrics": ["movies"], "group_by": ["genre__genre_name"]},  # a distinct count per genre
        {"metrics": ["total_revenue_usd"], "group_by": ["movie__director_name"]},
        {"metrics": ["movies"], "group_by": ["metric_time"]},
        {"metrics": ["movies"], "group_by": ["metric_time__month"]},
        {"metrics": ["movies"], "group_by": ["movie__release_month"]},
        {"metrics": ["total_revenue_usd"], "group_by": ["movie"]},
        {
            "metrics": ["movies"],
            "where": ["{{ TimeDimension('metric_time', 'day') }} >= '2010-06-01'"],
        },
        {"metrics": ["movies"], "where": ["{{ Dimension('movie__director_name') }} is not null"]},
        {
            "metrics": ["total_revenue_usd"],
            "group_by": ["movie__primary_genre"],
            "where": ["{{ Dimension('movie__budget') }} > 1000000"],
        },
        {"metrics": ["cast_appearances"], "group_by": ["movie__primary_genre"]},
    ],
)
def test_queries_outside_the_rollups_read_the_semantic_models(
    layer: SemanticLayer, body: dict
) -> None:
    compiled = layer.compile(MetricQuery(**body))
    assert "agg_" not in compiled.sql
    assert compiled.sql == layer.compile(MetricQuery(**body), rollups=False).sql


def test_a_caller_limited_to_the_documented_marts_still_reads_the_rollup(
    layer: SemanticLayer,
) -> None:
    """`/ask` passes the tables its schema context describes, which leaves the rollups out;
    a rollup only sums one of them, so the compiled query may read it."""
    query = MetricQuery(metrics=["movies"], group_by=["movie__primary_genre"])
    compiled = layer.compile(query, allowed_tables={"dim_movies", "fct_movie_genres"})
    assert "agg_movies_by_year" in compiled.sql


def test_a_caller_without_the_summed_tables_gets_the_models(layer: SemanticLayer) -> None:
    query = MetricQuery(metrics=["movies"], group_by=["movie__primary_genre"])
    compiled = layer.compile(query, allowed_tables={"dim_movies"})
    assert "agg_" not in compiled.sql


def test_rollups_that_do_not_load_leave_the_semantic_layer_working(
    layer: SemanticLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise ValueError("a manifest MetricFlow cannot parse")

    monkeypatch.setattr(rollup, "build", broken)
    loaded = engine.load(layer.engines.target_dir)
    assert loaded.rollups is None
    assert loaded.engine.explain(
        MetricFlowQueryRequest.create(metric_names=["movies"], group_by_names=["metric_time__year"])
    ).sql_statement.sql
