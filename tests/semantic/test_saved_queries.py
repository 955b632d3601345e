"""The dbt project's saved queries answer their verified examples (`api/text_to_sql/examples.yml`)
with the figures of the examples' hand-written SQL."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from api.semantic.query import InvalidMetricQuery
from api.semantic.service import SemanticLayer
from api.text_to_sql.examples import load_examples
from api.text_to_sql.executor import QueryExecutor
from tests.shared_fixtures import ApiWarehouse
from warehouse.connection import analyst_url
from warehouse.settings import Settings

# Which columns of the example's SQL hold what each saved query returns, in the same order.
COLUMNS = {
    "movies_per_year_since_2010": (
        ["release_year", "movie_count"],
        ["metric_time__year", "movies"],
    ),
    "success_rate_by_genre": (
        ["genre_name", "labelled_movies", "success_rate"],
        ["genre__genre_name", "labelled_movies", "success_rate"],
    ),
    # Ties at the tenth place may name other directors: the figures are what must agree.
    "directors_with_most_successes": (
        ["successes", "labelled_movies"],
        ["commercial_successes", "labelled_movies"],
    ),
    "revenue_by_genre_and_year": (
        ["genre_name", "release_year", "total_revenue_usd"],
        ["genre__genre_name", "metric_time__year", "total_revenue_usd"],
    ),
    "actors_in_most_movies": (["movie_count"], ["cast_appearances"]),
    "average_budget_by_certification": (
        ["us_certification", "avg_budget_usd"],
        ["movie__us_certification", "average_budget_usd"],
    ),
    "movies_per_genre_in_the_1990s": (
        ["genre_name", "movie_count"],
        ["genre__genre_name", "movies"],
    ),
}


@pytest.fixture(scope="module")
def layer(api_warehouse: ApiWarehouse) -> Iterator[SemanticLayer]:
    settings = Settings(database_url=api_warehouse.database_url)
    executor = QueryExecutor(analyst_url(settings))
    yield SemanticLayer(api_warehouse.dbt_target, executor)
    executor.close()


def _normal(value):
    if isinstance(value, str) and value[:4].isdigit() and value[4:10] == "-01-01":
        return int(value[:4])  # a year at metric_time__year grain
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    return value


def _pick(columns: list[str], rows: list[list], wanted: list[str]) -> list[tuple]:
    where = [columns.index(c) for c in wanted]
    return [tuple(_normal(row[i]) for i in where) for row in rows]


def _same_rows(expected: list[tuple], actual: list[tuple]) -> None:
    def key(row: tuple) -> tuple:
        return tuple((v is None, str(type(v)), v if v is not None else 0) for v in row)

    expected, actual = sorted(expected, key=key), sorted(actual, key=key)
    assert len(expected) == len(actual) > 0
    for want, got in zip(expected, actual, strict=True):
        for a, b in zip(want, got, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (want, got)
            else:
                assert a == b, (want, got)


def test_every_saved_query_is_a_verified_example(layer: SemanticLayer) -> None:
    saved = layer.catalog().saved_queries
    questions = {example.question for example in load_examples()}
    assert set(saved) == set(COLUMNS)
    for query in saved.values():
        assert query.label and query.description, query.name
        assert query.description in questions, query.name


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_a_saved_query_gives_its_examples_figures(layer: SemanticLayer, name: str) -> None:
    saved = layer.catalog().saved_queries[name]
    example = next(e for e in load_examples() if e.question == saved.description)
    by_hand = layer.executor.run(example.sql, 100_000)
    compiled, result = layer.run(layer.saved_query(name))
    hand_columns, saved_columns = COLUMNS[name]
    _same_rows(
        _pick(by_hand.columns, by_hand.rows, hand_columns),
        _pick(result.columns, result.rows, saved_columns),
    )
    assert compiled.sql.count('"marts".') >= 1  # compiled to the marts, checked by the guard


def test_an_unknown_saved_query_names_the_closest(layer: SemanticLayer) -> None:
    with pytest.raises(InvalidMetricQuery) as raised:
        layer.saved_query("actors_in_the_most_movie")
    assert "actors_in_most_movies" in raised.value.suggestions
