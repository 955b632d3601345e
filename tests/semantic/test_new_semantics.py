"""The semantic layer's newer names against hand-written SQL over the marts, on the test
catalogue: the distinct-count metrics (directors, collections, languages, genres), the release
calendar dimensions, a movie's own figures as filters and as a ranking of movies (meta
`per_movie`), and the words the catalog gives them. Runs as `tmdb_analyst`."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from api.semantic.engine import MANIFEST_FILE
from api.semantic.query import MetricQuery
from api.semantic.service import SemanticLayer

ROWS = 100_000

# What hand SQL reads: a movie once (`m`), or a movie once per genre (`b`, with its movie `m`).
MOVIES = "marts.dim_movies as m"
MOVIE_GENRES = (
    "marts.bridge_movie_genres as b inner join marts.dim_movies as m on b.movie_id = m.movie_id"
)

# The meaning of each metric, by hand: (expression, relation it is counted over).
HAND_WRITTEN = {
    "movies": ("count(distinct m.movie_id)", MOVIES),
    "directors": ("count(distinct m.director_name)", MOVIES),
    "collections": ("count(distinct m.collection_id)", MOVIES),
    "languages": ("count(distinct m.original_language)", MOVIES),
    "genres": ("count(distinct b.genre_id)", MOVIE_GENRES),
}
DISTINCT_COUNTS = ("directors", "collections", "languages", "genres")
WITH_TWINS = ("directors", "collections", "languages")

# The release calendar, by hand from the release date (not from the YAML's expressions).
CALENDAR = {
    "movie__release_year": "extract(year from m.release_date)::integer",
    "movie__release_decade": "(floor(extract(year from m.release_date) / 10) * 10)::integer",
    "movie__release_quarter": "extract(quarter from m.release_date)::integer",
    "movie__release_month": "extract(month from m.release_date)::integer",
}
CALENDAR_FILTERS = {
    "{{ Dimension('movie__release_month') }} = 3": "extract(month from m.release_date) = 3",
    "{{ Dimension('movie__release_quarter') }} = 4": "extract(quarter from m.release_date) = 4",
    "{{ Dimension('movie__release_decade') }} in (1980, 1990)": (
        "m.release_date >= date '1980-01-01' and m.release_date < date '2000-01-01'"
    ),
    "{{ Dimension('movie__release_year') }} = 2010": (
        "m.release_date >= date '2010-01-01' and m.release_date < date '2011-01-01'"
    ),
    "{{ Dimension('movie__release_year') }} between 2000 and 2009"
    " and {{ Dimension('movie__release_month') }} in (6, 7, 8)": (
        "m.release_date >= date '2000-01-01' and m.release_date < date '2010-01-01'"
        " and extract(month from m.release_date) between 6 and 8"
    ),
    "{{ Dimension('movie__release_quarter') }} != 1": (
        "m.release_date is not null and extract(quarter from m.release_date) <> 1"
    ),
}

# A movie's own figures: the dim_movies column each figure dimension is, by hand.
FIGURE_COLUMNS = {
    "movie__budget": "budget_usd",
    "movie__revenue": "revenue_usd",
    "movie__profit": "profit_usd",
    "movie__roi": "roi",
    "movie__runtime": "runtime_minutes",
    "movie__rating": "vote_average",
    "movie__votes": "vote_count",
    "movie__popularity": "popularity",
}
FIGURE_FILTERS = {
    "{{ Dimension('movie__budget') }} > 80000000": "m.budget_usd > 80000000",
    "{{ Dimension('movie__revenue') }} >= 100000000": "m.revenue_usd >= 100000000",
    "{{ Dimension('movie__profit') }} < 0": "m.profit_usd < 0",
    "{{ Dimension('movie__roi') }} > 2": "m.roi > 2",
    "{{ Dimension('movie__runtime') }} between 90 and 120": (
        "m.runtime_minutes between 90 and 120"
    ),
    "{{ Dimension('movie__rating') }} >= 7.5": "m.vote_average >= 7.5",
    "{{ Dimension('movie__votes') }} >= 1000": "m.vote_count >= 1000",
    "{{ Dimension('movie__popularity') }} > 10": "m.popularity > 10",
    "{{ Dimension('movie__budget') }} is null": "m.budget_usd is null",
    "{{ Dimension('movie__budget') }} > 80000000 and {{ Dimension('movie__rating') }} >= 7.5": (
        "m.budget_usd > 80000000 and m.vote_average >= 7.5"
    ),
}
# Metrics checked under the figure thresholds, by hand over `m`.
UNDER_THRESHOLDS = {
    "movies": "count(distinct m.movie_id)",
    "directors": "count(distinct m.director_name)",
    "total_revenue_usd": "sum(m.revenue_usd)",
    "average_rating": "avg(m.vote_average)",
}

MOVIE_GROUP_BY = ["movie", "movie__title", "movie__release_year"]
TOP = 5

NEW_DIMENSIONS = (*CALENDAR, *FIGURE_COLUMNS)
NEW_METRICS = (*DISTINCT_COUNTS, *(f"{name}_per_genre" for name in WITH_TWINS))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _rows(layer: SemanticLayer, sql: str) -> list[list[Any]]:
    return layer.executor.run(sql, ROWS).rows


def _scalar(layer: SemanticLayer, sql: str) -> Any:
    ((value,),) = _rows(layer, sql)
    return value


def _by_key(rows: list[list[Any]]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in rows}


def _hand(
    layer: SemanticLayer, metric: str, where: str = "", group: str = "", relation: str = ""
) -> Any:
    """The metric by hand, optionally filtered (`where` over `m`) and grouped (`group`); by
    genre (`relation=MOVIE_GENRES`) a movie counts once in each of its genres."""
    expr, own = HAND_WRITTEN.get(metric) or (UNDER_THRESHOLDS[metric], MOVIES)
    relation = relation or own
    condition = f" where {where}" if where else ""
    if not group:
        return _scalar(layer, f"select {expr} from {relation}{condition}")
    return _by_key(
        _rows(layer, f"select {group} as k, {expr} as v from {relation}{condition} group by 1")
    )


def _layer(
    layer: SemanticLayer, metric: str, where: list[str] | None = None, group_by: str = ""
) -> Any:
    """The metric through the product's own path (`MetricQuery`, resolve, compile, guard)."""
    query = MetricQuery(metrics=[metric], group_by=[group_by] if group_by else [], where=where)
    _, result = layer.run(query, max_rows=ROWS)
    value = result.columns.index(metric)
    if not group_by:
        ((answer,),) = [[row[value]] for row in result.rows]
        return answer
    key = result.columns.index(group_by)
    return {row[key]: row[value] for row in result.rows}


def _close(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


def _same(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    wrong = {k: (actual[k], v) for k, v in expected.items() if not _close(actual[k], v)}
    assert not wrong, f"(semantic layer, hand SQL) differ: {wrong}"


def _manifest(layer: SemanticLayer) -> dict[str, Any]:
    return json.loads((layer.engines.target_dir / MANIFEST_FILE).read_text())


def _meta(element: dict[str, Any]) -> dict[str, Any]:
    return ((element.get("config") or {}).get("meta")) or {}


def _movie_dimensions(layer: SemanticLayer) -> dict[str, dict[str, Any]]:
    """The `movies` model's dimensions in the compiled manifest, by MetricFlow name."""
    (movies,) = [m for m in _manifest(layer)["semantic_models"] if m["name"] == "movies"]
    return {f"movie__{d['name']}": d for d in movies["dimensions"]}


def _per_movie(layer: SemanticLayer) -> dict[str, str]:
    """Dimension → the metric that, grouped by movie, is that figure (meta `per_movie`)."""
    return {
        name: _meta(d)["per_movie"]
        for name, d in _movie_dimensions(layer).items()
        if _meta(d).get("per_movie")
    }


def _compile_directly(
    layer: SemanticLayer,
    metric: str,
    group_by: list[str],
    where: list[str],
    order_by: list[str] | None = None,
    limit: int | None = None,
) -> str:
    """Compile with MetricFlow the way `api.semantic.service` does, past the product's name
    checks (which do not know entity group-bys such as `movie`)."""
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    request = MetricFlowQueryRequest.create(
        metric_names=[metric],
        group_by_names=group_by,
        where_constraints=where,
        order_by_names=order_by,
        limit=limit,
    )
    return layer.engines.get().engine.explain(request).sql_statement.sql


def _not_null(dimension: str) -> str:
    return f"{{{{ Dimension('{dimension}') }}}} is not null"


# --------------------------------------------------------------------------------------------
# 1. distinct-count metrics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", DISTINCT_COUNTS)
def test_distinct_count_matches_hand_written_sql(layer: SemanticLayer, metric: str) -> None:
    expected = _hand(layer, metric)
    assert expected > 1
    assert _layer(layer, metric) == expected


def test_genres_counts_the_genres_of_the_marts_movie_genre_fact(layer: SemanticLayer) -> None:
    expected = _scalar(layer, "select count(distinct genre_id) from marts.fct_movie_genres")
    assert _layer(layer, "genres") == expected


@pytest.mark.parametrize("metric", WITH_TWINS)
def test_distinct_count_by_genre_matches_hand_written_sql(
    layer: SemanticLayer, metric: str
) -> None:
    expected = _hand(layer, metric, group="b.genre_name", relation=MOVIE_GENRES)
    assert len(expected) > 3
    _same(expected, _layer(layer, metric, group_by="genre__genre_name"))


@pytest.mark.parametrize("metric", DISTINCT_COUNTS)
def test_distinct_count_by_year_matches_hand_written_sql(layer: SemanticLayer, metric: str) -> None:
    expected = _hand(layer, metric, group="date_trunc('year', m.release_date)::date::text")
    actual = _layer(layer, metric, group_by="metric_time__year")
    assert len(expected) > 3
    _same(expected, {(k[:10] if k else k): v for k, v in actual.items()})


def test_each_distinct_count_counts_the_values_of_its_meta_dimension(
    layer: SemanticLayer,
) -> None:
    """Meta `counts` names the dimension whose distinct values the metric counts: the metric
    equals how many (non-null) values the layer groups that dimension into."""
    counted = {m["name"]: _meta(m).get("counts") for m in _manifest(layer)["metrics"]}
    counted = {name: dim for name, dim in counted.items() if dim}
    assert set(DISTINCT_COUNTS) <= set(counted)
    catalog = layer.catalog()
    for metric, dimension in counted.items():
        assert dimension in catalog.dimensions, (metric, dimension)
        groups = _layer(layer, "movies", group_by=dimension)
        values = [key for key in groups if key is not None]
        assert _layer(layer, metric) == len(values), (metric, dimension)


# --------------------------------------------------------------------------------------------
# 2. the release calendar
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", sorted(CALENDAR_FILTERS))
@pytest.mark.parametrize("metric", sorted(HAND_WRITTEN))
def test_calendar_filter_matches_hand_written_sql(
    layer: SemanticLayer, metric: str, where: str
) -> None:
    expected = _hand(layer, metric, where=CALENDAR_FILTERS[where])
    if metric == "movies":  # each filter keeps some movies and drops others
        assert 0 < expected < _hand(layer, "movies")
    assert _layer(layer, metric, where=[where]) == expected


@pytest.mark.parametrize("dimension", sorted(CALENDAR))
@pytest.mark.parametrize("metric", sorted(HAND_WRITTEN))
def test_calendar_grouping_matches_hand_written_sql(
    layer: SemanticLayer, metric: str, dimension: str
) -> None:
    expected = _hand(layer, metric, group=CALENDAR[dimension])
    assert len(expected) > 3
    _same(expected, _layer(layer, metric, group_by=dimension))


def test_calendar_values_are_in_range(layer: SemanticLayer) -> None:
    quarters = _layer(layer, "movies", group_by="movie__release_quarter")
    months = _layer(layer, "movies", group_by="movie__release_month")
    decades = _layer(layer, "movies", group_by="movie__release_decade")
    assert set(quarters) - {None} == {1, 2, 3, 4}
    assert set(months) - {None} == set(range(1, 13))
    assert all(decade % 10 == 0 for decade in decades if decade is not None)


@pytest.mark.parametrize("metric", ["movies", *WITH_TWINS])
def test_calendar_filter_by_genre_matches_hand_written_sql(
    layer: SemanticLayer, metric: str
) -> None:
    where = "{{ Dimension('movie__release_decade') }} in (1980, 1990)"
    expected = _hand(
        layer, metric, where=CALENDAR_FILTERS[where], group="b.genre_name", relation=MOVIE_GENRES
    )
    assert len(expected) > 3
    _same(expected, _layer(layer, metric, where=[where], group_by="genre__genre_name"))


# --------------------------------------------------------------------------------------------
# 3. thresholds on a movie's figures
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", sorted(FIGURE_FILTERS))
@pytest.mark.parametrize("metric", sorted(UNDER_THRESHOLDS))
def test_figure_threshold_matches_hand_written_sql(
    layer: SemanticLayer, metric: str, where: str
) -> None:
    expected = _hand(layer, metric, where=FIGURE_FILTERS[where])
    if metric == "movies":  # each threshold keeps some movies and drops others
        assert 0 < expected < _hand(layer, "movies")
    assert _close(_layer(layer, metric, where=[where]), expected)


def test_every_figure_dimension_has_a_threshold_case(layer: SemanticLayer) -> None:
    """A new figure dimension gets its hand-written column and threshold here too."""
    figures = set(_per_movie(layer))
    assert figures == set(FIGURE_COLUMNS)
    assert all(any(f"'{name}'" in where for where in FIGURE_FILTERS) for name in figures)


@pytest.mark.parametrize(
    "where",
    ["{{ Dimension('movie__budget') }} > 80000000", "{{ Dimension('movie__rating') }} >= 7.5"],
)
@pytest.mark.parametrize("metric", ["movies", *WITH_TWINS])
def test_figure_threshold_by_genre_matches_hand_written_sql(
    layer: SemanticLayer, metric: str, where: str
) -> None:
    expected = _hand(
        layer, metric, where=FIGURE_FILTERS[where], group="b.genre_name", relation=MOVIE_GENRES
    )
    assert len(expected) > 3
    _same(expected, _layer(layer, metric, where=[where], group_by="genre__genre_name"))


# --------------------------------------------------------------------------------------------
# 4. a movie's figure is its `per_movie` metric grouped by movie
# --------------------------------------------------------------------------------------------


def test_per_movie_mapping_is_read_from_the_manifest(layer: SemanticLayer) -> None:
    per_movie = _per_movie(layer)
    dimensions = _movie_dimensions(layer)
    assert len(per_movie) >= len(FIGURE_COLUMNS)
    catalog = layer.catalog()
    for dimension, metric in per_movie.items():
        assert metric in catalog.metrics, (dimension, metric)
        # Where the catalog carries the meta too, it says the same as the manifest.
        assert getattr(catalog.dimensions[dimension], "per_movie", metric) == metric
        assert dimension in catalog.metrics[metric].dimensions, (dimension, metric)
        if dimension in FIGURE_COLUMNS:  # the known figures are the columns written by hand
            assert (dimensions[dimension].get("expr") or "") == FIGURE_COLUMNS[dimension]


def _column(layer: SemanticLayer, dimension: str) -> str:
    """The dim_movies column of a figure: by hand for the known ones, else the YAML's expr."""
    source = _movie_dimensions(layer)[dimension]
    return FIGURE_COLUMNS.get(dimension) or source.get("expr") or source["name"]


def test_per_movie_metric_is_the_figure_of_every_movie(layer: SemanticLayer) -> None:
    """Grouped by movie (and by the figure itself), the metric equals the figure, movie by
    movie, and every movie with the figure is there."""
    failures: dict[str, Any] = {}
    for dimension, metric in sorted(_per_movie(layer).items()):
        sql = _compile_directly(layer, metric, ["movie", dimension], [_not_null(dimension)])
        result = layer.executor.run(sql, ROWS)
        movie, figure = result.columns.index("movie"), result.columns.index(dimension)
        value = result.columns.index(metric)
        mismatched = [row for row in result.rows if not _close(row[value], row[figure])]
        column = _column(layer, dimension)
        expected = _by_key(
            _rows(layer, f"select movie_id, {column} from {MOVIES} where {column} is not null")
        )
        actual = {row[movie]: row[value] for row in result.rows}
        if mismatched or actual.keys() != expected.keys():
            failures[dimension] = (metric, mismatched[:3], len(actual), len(expected))
            continue
        wrong = [k for k, v in expected.items() if not _close(actual[k], v)]
        if wrong:
            failures[dimension] = (metric, wrong[:3])
    assert not failures


def _check_top(
    layer: SemanticLayer, dimension: str, metric: str, columns: list[str], rows: list[list]
) -> list[str]:
    """What is wrong with `rows` as the top movies by `dimension` (empty when nothing)."""
    column = _column(layer, dimension)
    facts = {
        row[0]: row[1:]
        for row in _rows(
            layer,
            f"select movie_id, title, release_year, {column} from {MOVIES}"
            f" where {column} is not null",
        )
    }
    ranked = sorted(facts.items(), key=lambda item: item[1][2], reverse=True)
    top_values = [figure for _, (_, _, figure) in ranked[:TOP]]
    cut = top_values[-1]
    must_be_in = {movie for movie, (_, _, figure) in ranked if figure > cut}

    problems = []
    at = {name: columns.index(name) for name in [*MOVIE_GROUP_BY, metric]}
    values = [row[at[metric]] for row in rows]
    if len(values) != TOP or not all(map(_close, values, top_values)):
        problems.append(f"values {values} != top {top_values}")
    movies = {row[at["movie"]] for row in rows}
    if not must_be_in <= movies:
        problems.append(f"missing movies {sorted(must_be_in - movies)}")
    for row in rows:
        fact = facts.get(row[at["movie"]])
        if fact is None or [row[at["movie__title"]], row[at["movie__release_year"]]] != list(
            fact[:2]
        ):
            problems.append(f"row {row} is not movie {fact}")
        elif not _close(row[at[metric]], fact[2]):
            problems.append(f"row {row}: the movie's {column} is {fact[2]}")
    return problems


def test_top_movies_by_each_figure_compiled_by_metricflow(layer: SemanticLayer) -> None:
    """For every figure with meta `per_movie`: its metric by movie, highest first, limit 5,
    is exactly the top 5 movies by that figure in dim_movies."""
    failures: dict[str, list[str]] = {}
    for dimension, metric in sorted(_per_movie(layer).items()):
        sql = _compile_directly(
            layer, metric, MOVIE_GROUP_BY, [_not_null(dimension)], [f"-{metric}"], TOP
        )
        result = layer.executor.run(sql, ROWS)
        problems = _check_top(layer, dimension, metric, result.columns, result.rows)
        if problems:
            failures[f"{dimension} ({metric})"] = problems
    assert not failures


def test_top_movies_by_each_figure_through_the_product(layer: SemanticLayer) -> None:
    """The same through `MetricQuery`: the product groups by the `movie` entity."""
    failures: dict[str, list[str]] = {}
    for dimension, metric in sorted(_per_movie(layer).items()):
        _, result = layer.run(
            MetricQuery(
                metrics=[metric],
                group_by=MOVIE_GROUP_BY,
                where=[_not_null(dimension)],
                order_by=[f"-{metric}"],
                limit=TOP,
            )
        )
        problems = _check_top(layer, dimension, metric, result.columns, result.rows)
        if problems:
            failures[f"{dimension} ({metric})"] = problems
    assert not failures


# --------------------------------------------------------------------------------------------
# 5. words
# --------------------------------------------------------------------------------------------


def test_new_dimensions_have_a_label_and_a_description(layer: SemanticLayer) -> None:
    catalog = layer.catalog()
    source = _movie_dimensions(layer)
    flagged = {name for name, d in source.items() if {"per_movie", "calendar"} & set(_meta(d))}
    assert flagged >= set(NEW_DIMENSIONS)
    for name in sorted(flagged):
        info = catalog.dimensions[name]
        assert info.label.strip() and info.description.strip(), name
        # The catalog falls back to the name for a missing label: the YAML must have its own.
        assert (source[name].get("label") or "").strip(), name
        assert info.type == "categorical", name
        assert name in catalog.metrics["movies"].dimensions, name


def test_new_metrics_have_a_label_and_a_description(layer: SemanticLayer) -> None:
    catalog = layer.catalog()
    raw = {m["name"]: m for m in _manifest(layer)["metrics"]}
    counting = {name for name, m in raw.items() if "counts" in _meta(m)}
    assert counting >= set(DISTINCT_COUNTS)
    for name in sorted(counting | set(NEW_METRICS)):
        assert (raw[name].get("label") or "").strip(), name
        assert (raw[name].get("description") or "").strip(), name
        if name in catalog.metrics:  # twins are not listed; their base is
            info = catalog.metrics[name]
            assert info.label.strip() and info.description.strip() and info.synonyms, name
    for name in WITH_TWINS:
        assert catalog.metrics[name].twin == f"{name}_per_genre"
        assert "genre__genre_name" in catalog.metrics[name].dimensions
