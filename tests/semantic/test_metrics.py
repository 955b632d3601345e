"""Every metric against hand-written SQL over the marts, by year and by genre, on the test
catalogue; genre counting both ways; bad names; hostile filters. Runs as `tmdb_analyst`."""

from __future__ import annotations

import math

import pytest

from api.semantic.query import InvalidMetricQuery, MetricQuery
from api.semantic.service import SemanticLayer

# The meaning of each metric, written by hand over `marts.dim_movies` as `m`.
HAND_WRITTEN = {
    "movies": "count(distinct m.movie_id)",
    "total_revenue_usd": "sum(m.revenue_usd)",
    "total_budget_usd": "sum(m.budget_usd)",
    "total_profit_usd": "sum(m.profit_usd)",
    "average_budget_usd": "avg(m.budget_usd)",
    "average_revenue_usd": "avg(m.revenue_usd)",
    "average_profit_usd": "avg(m.profit_usd)",
    "average_runtime_minutes": "avg(m.runtime_minutes)",
    "average_rating": "avg(m.vote_average)",
    "total_votes": "sum(m.vote_count)",
    "average_popularity": "avg(m.popularity)",
    "commercial_successes": "count(*) filter (where m.is_commercial_success)",
    "labelled_movies": "count(m.is_commercial_success)",
    "success_rate": "count(*) filter (where m.is_commercial_success)::float"
    " / nullif(count(m.is_commercial_success), 0)",
    "median_roi": "percentile_cont(0.5) within group (order by m.roi)",
    "median_budget_usd": "percentile_cont(0.5) within group (order by m.budget_usd)",
    "median_revenue_usd": "percentile_cont(0.5) within group (order by m.revenue_usd)",
}

BY_YEAR = (
    "select date_trunc('year', m.release_date)::date::text as k, {expr} as v"
    " from marts.dim_movies as m group by 1"
)
BY_GENRE = (
    "select b.genre_name as k, {expr} as v from marts.bridge_movie_genres as b"
    " inner join marts.dim_movies as m on b.movie_id = m.movie_id group by 1"
)


def _rows(layer: SemanticLayer, sql: str) -> dict:
    result = layer.executor.run(sql, 100_000)
    return {row[0]: row[1] for row in result.rows}


def _metric(layer: SemanticLayer, metric: str, group_by: str) -> dict:
    _, result = layer.run(MetricQuery(metrics=[metric], group_by=[group_by]))
    key, value = result.columns.index(group_by), result.columns.index(metric)
    return {
        (row[key][:10] if group_by.startswith("metric_time") and row[key] else row[key]): row[value]
        for row in result.rows
    }


def _same(expected: dict, actual: dict) -> None:
    expected = {k: v for k, v in expected.items() if v is not None}
    actual = {k: v for k, v in actual.items() if v is not None}
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        assert math.isclose(float(actual[key]), float(value), rel_tol=1e-9), key


def test_every_contract_metric_is_listed_with_words(layer: SemanticLayer) -> None:
    catalog = layer.catalog()
    assert set(HAND_WRITTEN) <= set(catalog.metrics)
    for metric in catalog.metrics.values():
        assert metric.label and metric.description and metric.synonyms, metric.name
    assert "box office" in catalog.metrics["total_revenue_usd"].synonyms
    assert "hit rate" in catalog.metrics["success_rate"].synonyms
    for name in (
        "metric_time",
        "movie__primary_genre",
        "movie__director_name",
        "movie__us_certification",
        "movie__original_language",
        "genre__genre_name",
    ):
        assert catalog.dimensions[name].description, name
    assert not any(name.endswith("_per_genre") for name in catalog.metrics)


@pytest.mark.parametrize("metric", sorted(HAND_WRITTEN))
def test_metric_by_year_matches_hand_written_sql(layer: SemanticLayer, metric: str) -> None:
    expected = _rows(layer, BY_YEAR.format(expr=HAND_WRITTEN[metric]))
    assert len(expected) > 3
    _same(expected, _metric(layer, metric, "metric_time__year"))


@pytest.mark.parametrize("metric", sorted(HAND_WRITTEN))
def test_metric_by_genre_matches_hand_written_sql(layer: SemanticLayer, metric: str) -> None:
    expected = _rows(layer, BY_GENRE.format(expr=HAND_WRITTEN[metric]))
    assert len(expected) > 3
    _same(expected, _metric(layer, metric, "genre__genre_name"))


def test_a_movie_counts_in_each_genre_and_once_overall(layer: SemanticLayer) -> None:
    by_genre = _metric(layer, "movies", "genre__genre_name")
    pairs = _rows(layer, "select 1, count(*) from marts.bridge_movie_genres")[1]
    assert sum(by_genre.values()) == pairs
    _, overall = layer.run(MetricQuery(metrics=["movies"]))
    movies = _rows(layer, "select 1, count(*) from marts.dim_movies")[1]
    assert overall.rows == [[movies]]
    assert pairs > movies  # the catalogue has movies with several genres
    _, drama = layer.run(
        MetricQuery(metrics=["movies"], where=["{{ Dimension('genre__genre_name') }} = 'Drama'"])
    )
    assert drama.rows == [[by_genre["Drama"]]]


def test_order_and_limit_follow_the_metric_names(layer: SemanticLayer) -> None:
    compiled, result = layer.run(
        MetricQuery(
            metrics=["movies"], group_by=["genre__genre_name"], order_by=["-movies"], limit=3
        )
    )
    assert result.columns == ["genre__genre_name", "movies"]
    counts = [row[1] for row in result.rows]
    assert len(counts) == 3 and counts == sorted(counts, reverse=True)
    assert "_per_genre" not in compiled.sql.split("FROM")[0]


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ({"metrics": ["sucess_rate"]}, "success_rate"),
        ({"metrics": ["movies"], "group_by": ["genre_name"]}, "genre__genre_name"),
        ({"metrics": ["movies"], "group_by": ["metric_time__yr"]}, "metric_time__year"),
    ],
)
def test_bad_names_get_the_closest_valid_ones(layer: SemanticLayer, query, suggestion) -> None:
    with pytest.raises(InvalidMetricQuery) as caught:
        layer.compile(MetricQuery.model_validate(query))
    assert suggestion in caught.value.suggestions


@pytest.mark.parametrize(
    "where",
    [
        "{{ Dimension('movie__title') }} in (select usename from pg_user)",
        "{{ Dimension('movie__title') }} = 'x'; drop table marts.dim_movies",
        "{{ Dimension('movie__title') }} = 'x' -- comment",
        "{{ Dimension('movie__title') }} = 'x' or pg_sleep(10) is null",
        "{{ Dimension('movie__title') }} = 'x' union select 1",
        "{{ config.__class__ }} = 1 and {{ Dimension('movie__title') }} = 'x'",
        "1 = 1",
    ],
)
def test_hostile_where_strings_are_refused(layer: SemanticLayer, where: str) -> None:
    with pytest.raises(InvalidMetricQuery):
        layer.compile(MetricQuery(metrics=["movies"], where=[where]))


def test_a_filter_by_director_matches_sql(layer: SemanticLayer) -> None:
    director = _rows(
        layer,
        "select director_name, count(*) from marts.dim_movies where director_name is not null"
        " group by 1 order by 2 desc, 1 limit 1",
    )
    ((name, count),) = director.items()
    quoted = name.replace("'", "''")
    _, result = layer.run(
        MetricQuery(
            metrics=["movies"], where=[f"{{{{ Dimension('movie__director_name') }}}} = '{quoted}'"]
        )
    )
    assert result.rows == [[count]]


# People metrics, by hand over their credit fact as `c` (with the movie as `m`).
PEOPLE = {
    "cast_appearances": ("marts.fct_movie_cast", "count(*)"),
    "actors": ("marts.fct_movie_cast", "count(distinct c.person_id)"),
    "crew_credits": ("marts.fct_movie_crew", "count(*)"),
    "crew_members": ("marts.fct_movie_crew", "count(distinct c.person_id)"),
    "crew_movies": ("marts.fct_movie_crew", "count(distinct c.movie_id)"),
}
PEOPLE_BY = {
    "metric_time__year": "date_trunc('year', c.release_date)::date::text",
    "movie__primary_genre": "m.primary_genre",
}


@pytest.mark.parametrize("group_by", sorted(PEOPLE_BY))
@pytest.mark.parametrize("metric", sorted(PEOPLE))
def test_people_metric_matches_hand_written_sql(layer, metric: str, group_by: str) -> None:
    table, expr = PEOPLE[metric]
    expected = _rows(
        layer,
        f"select {PEOPLE_BY[group_by]} as k, {expr} as v from {table} as c"
        " inner join marts.dim_movies as m on c.movie_id = m.movie_id group by 1",
    )
    assert len(expected) > 3
    _same(expected, _metric(layer, metric, group_by))


def test_movies_per_person_and_job(layer: SemanticLayer) -> None:
    _, result = layer.run(
        MetricQuery(
            metrics=["crew_movies"],
            group_by=["person__name"],
            where=["{{ Dimension('crew_credit__job') }} = 'Director'"],
        )
    )
    expected = _rows(
        layer,
        "select p.name, count(distinct c.movie_id) from marts.fct_movie_crew as c"
        " inner join marts.dim_people as p on c.person_id = p.person_id"
        " where c.job = 'Director' group by 1",
    )
    assert len(expected) > 3
    _same(expected, {row[0]: row[1] for row in result.rows})


def test_a_people_metric_by_genre_is_refused_not_miscounted(layer: SemanticLayer) -> None:
    with pytest.raises(InvalidMetricQuery) as raised:
        layer.compile(MetricQuery(metrics=["actors"], group_by=["genre__genre_name"]))
    assert "genre__genre_name" in str(raised.value)


@pytest.mark.parametrize(
    "condition",
    [
        "{{ Dimension('genre__genre_name') }} in ('Drama', 'Comedy')",
        "{{ Dimension('genre__genre_name') }} = 'Drama' or {{ Dimension('genre__genre_name') }}"
        " = 'Comedy'",
        "{{ Dimension('genre__genre_name') }} != 'Drama'",
    ],
)
def test_several_genres_without_grouping_are_refused_not_double_counted(layer, condition) -> None:
    with pytest.raises(InvalidMetricQuery) as raised:
        layer.compile(MetricQuery(metrics=["movies"], where=[condition]))
    assert "count a movie once per matching value" in str(raised.value)
    # Split by genre, the same filter is well defined: each genre's own count.
    _, split = layer.run(
        MetricQuery(metrics=["movies"], group_by=["genre__genre_name"], where=[condition])
    )
    assert split.rows


def test_one_genre_filter_counts_each_movie_once(layer: SemanticLayer) -> None:
    _, dramas = layer.run(
        MetricQuery(
            metrics=["total_revenue_usd"],
            where=["{{ Dimension('genre__genre_name') }} = 'Drama'"],
        )
    )
    expected = _rows(
        layer,
        "select 1, sum(m.revenue_usd) from marts.dim_movies as m where exists (select 1 from"
        " marts.bridge_movie_genres as b where b.movie_id = m.movie_id and b.genre_name = 'Drama')",
    )[1]
    assert math.isclose(dramas.rows[0][0], expected, rel_tol=1e-9)


def test_a_compiled_query_is_reused_for_the_same_manifest(layer: SemanticLayer) -> None:
    query = MetricQuery(metrics=["success_rate"], group_by=["movie__primary_genre"])
    first = layer.compile(query)
    assert layer.compile(MetricQuery(**query.model_dump())) is first
    assert (
        layer.compile(query, max_rows=5) is not first and layer.compile(query, max_rows=5).rows == 5
    )
