"""Gemini keeps the built-in engine's promise (issue 26 §4): its draft must have the shape the
question asks for (`api.ask.shape`). A mis-shaped draft goes back to the model once, with what
was wrong; a second one is refused (`unanswerable`), never shown. Driven through the real SDK
against the local Gemini-compatible server."""

from __future__ import annotations

from tests.api.conftest import drafts_then_text
from tests.conftest import query
from tests.fake_gemini import FakeGemini
from tests.shared_fixtures import ApiWarehouse

MOVIES = "movies listed or ranked, one row per film"
FIGURE = "one figure"


def _draft_prompts(gemini: FakeGemini) -> list[str]:
    """The prompts of the draft (JSON) requests, in order."""
    return [FakeGemini.prompt_of(r) for r in gemini.requests if FakeGemini.wants_json(r["body"])]


def test_a_mis_shaped_metric_query_is_corrected_once(api, gemini, api_warehouse: ApiWarehouse):
    per_director = {"metrics": ["movies"], "group_by": ["movie__director_name"]}
    gemini.respond_with(
        drafts_then_text(
            {"metric_query": per_director, "chart": None, "reasoning": "a list"},
            {"metric_query": {"metrics": ["directors"]}, "chart": None, "reasoning": "a count"},
        )
    )
    response = api().post("/ask", json={"question": "How many directors are there?"})
    assert response.status_code == 200, response.text
    body = response.json()
    [[directors]] = query(
        api_warehouse.database_url, "select count(distinct director_name) from marts.dim_movies"
    )
    assert body["rows"] == [[directors]] and body["attempts"] == 2
    assert body["route"] == "semantic" and body["metric_query"] == {"metrics": ["directors"]}
    first, second = _draft_prompts(gemini)
    assert "Correct these problems" not in first
    # The correction names the asked shape and what was wrong with the draft.
    assert "has the wrong shape" in second and "movie__director_name" in second
    assert f"The question asks for {FIGURE}" in second and "row per director name" in second


def test_a_draft_that_stays_mis_shaped_is_refused_not_shown(api, gemini):
    by_certification = {
        "metric_query": {
            "metrics": ["average_rating"],
            "group_by": ["movie__us_certification"],
            "where": ["{{ Dimension('movie__release_year') }} = 2015"],
            "order_by": ["-average_rating"],
            "limit": 1,
        },
        "chart": None,
        "reasoning": "the best certification",
    }
    gemini.respond_with(drafts_then_text(by_certification))
    response = api().post("/ask", json={"question": "What is the highest rated movie of 2015?"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "unanswerable"
    assert MOVIES in body["error"]["message"] and "us certification" in body["error"]["message"]
    assert "rows" not in body and "sql" not in body
    # One correction round, then the refusal: two drafts asked for, no answer text written.
    prompts = _draft_prompts(gemini)
    assert len(prompts) == 2 and "has the wrong shape" in prompts[1]
    assert len(gemini.requests) == 2


def test_a_draft_of_the_asked_shape_passes_first_time(api, gemini, api_warehouse: ApiWarehouse):
    top_roi = {
        "metrics": ["median_roi"],
        "group_by": ["movie", "movie__title", "movie__release_year"],
        "where": ["{{ Dimension('movie__roi') }} is not null"],
        "order_by": ["-median_roi"],
        "limit": 10,
    }
    gemini.respond_with(
        drafts_then_text({"metric_query": top_roi, "chart": None, "reasoning": "r"})
    )
    question = "Which 10 movies had the highest return on investment?"
    response = api().post("/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attempts"] == 1 and body["route"] == "semantic"
    expected = query(
        api_warehouse.database_url,
        "select movie_id, title, extract(year from release_date)::int, roi"
        " from marts.dim_movies where roi is not null order by roi desc limit 10",
    )
    assert len(body["rows"]) == 10
    column = {name: i for i, name in enumerate(body["columns"])}
    got = [
        (
            row[column["movie"]],
            row[column["movie__title"]],
            row[column["movie__release_year"]],
            row[column["median_roi"]],
        )
        for row in body["rows"]
    ]
    assert [roi for *_, roi in got] == [float(roi) for *_, roi in expected]
    # Ties in ROI may come in either order: the same films, each with its own title and year.
    assert {(m, t, y) for m, t, y, _ in got} == {(m, t, y) for m, t, y, _ in expected}


def test_the_first_prompt_states_the_asked_shape(api, gemini):
    gemini.respond_with(
        drafts_then_text(
            {
                "metric_query": {
                    "metrics": ["average_rating"],
                    "group_by": ["movie", "movie__title", "movie__release_year"],
                    "where": ["{{ Dimension('movie__release_year') }} = 2015"],
                    "order_by": ["-average_rating"],
                    "limit": 1,
                },
                "chart": None,
                "reasoning": "r",
            }
        )
    )
    response = api().post("/ask", json={"question": "What is the highest rated movie of 2015?"})
    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 1
    [first] = _draft_prompts(gemini)
    assert f"The answer must be: {MOVIES}" in first
    assert "movie, movie__title and movie__release_year" in first
    # The system prompt says how shapes are written, too.
    system = FakeGemini.system_of(gemini.requests[0]["body"])
    assert "one row per film" in system and '"how many X" is one number' in system


def test_sql_of_many_rows_for_one_figure_is_corrected(api, gemini, api_warehouse):
    listing = "select director_name from marts.dim_movies group by director_name"
    count = "select count(distinct director_name) as directors from marts.dim_movies"
    gemini.respond_with(
        drafts_then_text({"sql": listing, "chart": None, "reasoning": "a list"}, {"sql": count})
    )
    response = api().post("/ask", json={"question": "How many directors are there?"})
    assert response.status_code == 200, response.text
    body = response.json()
    [[directors]] = query(api_warehouse.database_url, count)
    assert body["rows"] == [[directors]] and body["attempts"] == 2 and body["route"] == "sql"
    assert "rows." in _draft_prompts(gemini)[1] and FIGURE in _draft_prompts(gemini)[1]


def test_sql_adding_films_up_for_a_list_of_films_is_refused(api, gemini):
    gemini.respond_with(
        drafts_then_text(
            {"sql": "select max(roi) as best_roi from marts.dim_movies", "chart": None}
        )
    )
    response = api().post("/ask", json={"question": "Which movies had the best ROI?"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unanswerable" and MOVIES in error["message"]
    assert len(_draft_prompts(gemini)) == 2


def test_a_mis_shaped_draft_is_counted_apart_from_other_failures(api, gemini, api_warehouse):
    """A mis-shaped draft, then an unsafe one, then a right one: the correction allowed for
    the shape does not use up the attempts allowed for the other failures, nor the reverse."""
    gemini.respond_with(
        drafts_then_text(
            {"metric_query": {"metrics": ["movies"], "group_by": ["movie__director_name"]}},
            {"sql": "delete from marts.dim_movies"},
            {"sql": "select * from raw_tmdb.movies"},
            {"metric_query": {"metrics": ["directors"]}},
        )
    )
    response = api().post("/ask", json={"question": "How many directors are there?"})
    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 4
    [[directors]] = query(
        api_warehouse.database_url, "select count(distinct director_name) from marts.dim_movies"
    )
    assert response.json()["rows"] == [[directors]]


def test_the_asked_shape_is_told_what_grounding_found(api, gemini, api_warehouse):
    """A movie's title is found by the built-in engine's grounding, not by the words: the shape
    asked of Gemini then keeps the films of that title apart."""
    [[title]] = query(
        api_warehouse.database_url,
        "select title from marts.dim_movies where title ~ '^[A-Z][a-z]+( [A-Z][a-z]+)+$'"
        " group by title order by max(popularity) desc limit 1",
    )
    gemini.respond_with(
        drafts_then_text({"metric_query": {"metrics": ["average_runtime_minutes"]}})
    )
    response = api().post("/ask", json={"question": f"What is the runtime of {title}?"})
    assert response.status_code == 422, response.text
    assert "an attribute of one movie" in response.json()["error"]["message"]
    assert "The answer must be: an attribute of one movie" in _draft_prompts(gemini)[0]
