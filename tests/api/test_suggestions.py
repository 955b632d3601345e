"""Suggested next questions, the Vega-Lite specs of answers, the Explore helpers and the vendored
chart libraries, against the package's warehouse with the built-in engine."""

from __future__ import annotations

import pytest

from api.semantic.catalog import Catalog, DimensionInfo, MetricInfo
from api.semantic.query import MetricQuery
from api.vega_lite import InvalidVegaLite, build, columns_of_query, validate
from tests.api.conftest import builtin_ask
from tests.conftest import query

QUESTIONS = (
    "success rate by genre",
    "success rate by genre since 2000",
    "median roi by year",
    "average budget by director",
    "How many movies were released each year since 2010?",
    "Which 10 movies had the highest return on investment?",
    "average rating by certification for dramas",
)


@pytest.fixture
def client(api):
    return api(GEMINI_API_KEY="")


def test_every_answer_suggests_at_most_three_questions_that_each_answer(client) -> None:
    checked = 0
    for question in QUESTIONS:
        body = client.post("/ask", json={"question": question}).json()
        suggestions = body["suggestions"]
        assert 1 <= len(suggestions) <= 3, (question, suggestions)
        assert question not in suggestions
        for suggestion in suggestions:
            answer = client.post("/ask", json={"question": suggestion})
            assert answer.status_code == 200, (question, suggestion, answer.text)
            assert answer.json()["engine"] == "builtin"
            checked += 1
    assert checked >= 2 * len(QUESTIONS)


def test_a_suggestion_drills_into_the_top_group_and_follows_the_filters(
    client, api_warehouse
) -> None:
    body = client.post("/ask", json={"question": "movies by genre since 2000"}).json()
    counts = dict(body["rows"])
    top = max(counts, key=counts.get)
    assert body["suggestions"][0] == f"Movies by year for {top} since 2000"
    drilled = client.post("/ask", json={"question": body["suggestions"][0]}).json()
    assert drilled["metric_query"]["group_by"] == ["metric_time__year"]
    by_year = dict(
        query(
            api_warehouse.database_url,
            "select extract(year from m.release_date)::int, count(*)"
            " from marts.dim_movies as m inner join marts.bridge_movie_genres as g"
            " on g.movie_id = m.movie_id where g.genre_name = %s"
            " and m.release_date >= '2000-01-01' group by 1",
            (top,),
        )
    )
    assert {int(year[:4]): n for year, n in drilled["rows"]} == by_year
    # A drill the engine would refuse is never shown: the next candidate takes its place.
    rates = client.post("/ask", json={"question": "success rate by genre since 2000"}).json()
    best = max((r for r in rates["rows"] if r[1] is not None), key=lambda r: r[1])[0]
    drill = f"Success rate by year for {best} since 2000"
    if drill not in rates["suggestions"]:
        assert client.post("/ask", json={"question": drill}).status_code == 422


def test_a_refusal_carries_what_it_understood_and_checked_questions(client) -> None:
    refused = client.post("/ask", json={"question": "success rate by genre for Nobody Atall"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "unanswerable" and "Nobody Atall" in error["message"]
    assert error["metric_query"] == {"metrics": ["success_rate"], "group_by": ["genre__genre_name"]}
    assert error["suggestions"][0] == "Success rate by genre"
    assert 1 <= len(error["suggestions"]) <= 3
    for suggestion in error["suggestions"]:
        assert client.post("/ask", json={"question": suggestion}).status_code == 200
    weather = client.post("/ask", json={"question": "what is the weather in Paris"}).json()
    assert weather["error"]["suggestions"] and "metric_query" not in weather["error"]


def test_the_try_questions_are_checked_on_the_loaded_data(client) -> None:
    tries = client.get("/web/suggestions").json()["suggestions"]
    assert tries[0] == "What is the success rate by genre?" and len(tries) == 3
    for question in tries:
        assert client.post("/ask", json={"question": question}).status_code == 200


def test_an_answers_chart_is_a_validated_vega_lite_spec(client) -> None:
    body = client.post("/ask", json={"question": "success rate by genre", "chart": True}).json()
    spec = body["chart"]["vega_lite"]
    assert body["chart"]["image_png_base64"]  # the PNG stays
    assert spec["mark"]["type"] == "bar" and spec["mark"]["tooltip"] is True
    x, y = spec["encoding"]["x"], spec["encoding"]["y"]
    assert (x["field"], x["type"], x["sort"]) == ("genre__genre_name", "nominal", "-y")
    assert (y["field"], y["type"]) == ("success_rate", "quantitative")
    assert [v["genre__genre_name"] for v in spec["data"]["values"]] == [r[0] for r in body["rows"]]
    assert {t["field"] for t in spec["encoding"]["tooltip"]} == set(body["columns"])
    series = client.post("/ask", json={"question": "movies by quarter", "chart": True}).json()
    when = series["chart"]["vega_lite"]["encoding"]["x"]
    assert (when["type"], when["timeUnit"]) == ("temporal", "utcyearquarter")


def test_explore_gets_a_spec_typed_by_the_semantic_layer(client) -> None:
    body = {
        "query": {"metrics": ["success_rate", "movies"], "group_by": ["movie__release_decade"]},
        "chart": "line",
        "columns": ["movie__release_decade", "success_rate", "movies"],
    }
    spec = client.post("/web/vega-lite", json=body).json()["vega_lite"]
    assert spec["data"] == {"name": "rows"}
    assert spec["encoding"]["x"]["type"] == "ordinal"
    refused = client.post("/web/vega-lite", json={**body, "columns": ["secret_column"]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_input"


def test_values_are_typed_ahead_from_the_grounding_index(client, api_warehouse) -> None:
    genres = [
        g for (g,) in query(api_warehouse.database_url, "select genre_name from marts.dim_genres")
    ]
    shown = client.get("/web/values", params={"dimension": "genre__genre_name", "prefix": "dr"})
    assert shown.json()["values"] == [g for g in genres if g.lower().startswith("dr")]
    director = query(
        api_warehouse.database_url,
        "select director_name from marts.dim_movies where director_name is not null"
        " group by 1 order by count(*) desc, 1 limit 1",
    )[0][0]
    typed = director.split()[0][:3]
    found = client.get(
        "/web/values", params={"dimension": "movie__director_name", "prefix": typed, "limit": 20}
    ).json()["values"]
    assert director in found and all(
        any(w.lower().startswith(typed.lower()) for w in v.split()) for v in found
    )
    french = client.get("/web/values", params={"dimension": "movie__original_language",
                                               "prefix": "fren"})  # fmt: skip
    assert french.json()["values"] == ["fr"]
    unknown = client.get("/web/values", params={"dimension": "movie__budget", "prefix": "1"})
    assert unknown.json()["values"] == []
    too_many = client.get("/web/values", params={"dimension": "genre__genre_name", "limit": 500})
    assert too_many.status_code == 422


def test_tmdb_ask_prints_the_next_questions(api_warehouse, client) -> None:
    expected = client.post("/ask", json={"question": "success rate by genre"}).json()
    result = builtin_ask(api_warehouse, "success rate by genre")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("Next questions:", 1)[1].strip().splitlines()
    listed = [line.strip()[2:] for line in printed if line.strip().startswith("- ")]
    assert listed == expected["suggestions"]


# -- the validator, without a warehouse -----------------------------------------------------
CATALOG = Catalog(
    metrics={"movies": MetricInfo("movies", "Movies", "", "simple", (), ("genre__genre_name",))},
    dimensions={
        "metric_time": DimensionInfo("metric_time", "Time", "", "time"),
        "genre__genre_name": DimensionInfo("genre__genre_name", "Genre", "", "categorical"),
    },
)
COLUMNS = columns_of_query(
    MetricQuery(metrics=["movies"], group_by=["genre__genre_name"]),
    CATALOG,
    ["genre__genre_name", "movies"],
)


def test_the_built_spec_passes_and_anything_else_is_refused() -> None:
    spec = build("bar", COLUMNS, rows=[["Drama", 3]])
    validate(spec, COLUMNS)
    bad = [
        {**spec, "mark": "rule"},
        {**spec, "data": {"url": "https://example.com/rows.json"}},
        {**spec, "transform": [{"calculate": "alert(1)", "as": "x"}]},
        {**spec, "encoding": {**spec["encoding"], "href": {"field": "movies", "type": "nominal"}}},
        {**spec, "encoding": {"x": {"field": "secret", "type": "nominal"}}},
        {**spec, "encoding": {"y": {"field": "movies", "type": "nominal"}}},
        {**spec, "encoding": {"x": {"field": "genre__genre_name", "type": "temporal",
                                    "timeUnit": "hours"}}},
    ]  # fmt: skip
    for wrong in bad:
        with pytest.raises(InvalidVegaLite):
            validate(wrong, COLUMNS)
    assert build("line", {"movies": COLUMNS["movies"]}) is None  # nothing to draw it across
