"""The dbt project's saved queries answer their verified examples (`api/text_to_sql/examples.yml`)
with the figures of the examples' hand-written SQL."""

from __future__ import annotations

import pytest

from api.eval import harness
from api.semantic.query import InvalidMetricQuery
from api.semantic.service import SemanticLayer
from api.text_to_sql.examples import load_examples

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


def _pick(columns: list[str], rows: list[list], wanted: list[str]) -> list[list]:
    where = [columns.index(c) for c in wanted]
    return [[row[i] for i in where] for row in rows]


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
    same, why = harness.compare(
        _pick(by_hand.columns, by_hand.rows, hand_columns),
        _pick(result.columns, result.rows, saved_columns),
        ordered=False,
        percent=False,
    )
    assert same and by_hand.rows, why
    assert compiled.sql.count('"marts".') >= 1  # compiled to the marts, checked by the guard


def test_an_unknown_saved_query_names_the_closest(layer: SemanticLayer) -> None:
    with pytest.raises(InvalidMetricQuery) as raised:
        layer.saved_query("actors_in_the_most_movie")
    assert "actors_in_most_movies" in raised.value.suggestions
