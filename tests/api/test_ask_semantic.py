"""`/ask` answers a metric question through the semantic layer and anything else through SQL;
a metric query the manifest does not allow goes back to the model, never runs."""

from __future__ import annotations

from tests.api.conftest import drafts_then_text
from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse


def test_a_metric_question_takes_the_semantic_route(api, gemini, api_warehouse: ApiWarehouse):
    gemini.respond_with(
        drafts_then_text(
            {
                "metric_query": {"metrics": ["success_rate"], "group_by": ["metric_time__year"]},
                "chart": {"type": "line", "x": "metric_time__year", "y": "success_rate"},
                "reasoning": "the governed metric",
            }
        )
    )
    response = api().post("/ask", json={"question": "What is the hit rate by year?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == "semantic" and body["engine"] == "gemini-test-flash"
    assert body["metric_query"]["metrics"] == ["success_rate"]
    assert body["columns"] == ["metric_time__year", "success_rate"]
    expected = dict(
        query(
            api_warehouse.database_url,
            "select date_trunc('year', release_date)::date::text, count(*) filter"
            " (where is_commercial_success)::float / count(is_commercial_success)"
            " from marts.dim_movies where is_commercial_success is not null group by 1",
        )
    )
    got = {row[0][:10]: row[1] for row in body["rows"] if row[0] and row[1] is not None}
    assert got.keys() == {k for k in expected if k}
    for year, rate in got.items():
        assert abs(rate - expected[year]) < 1e-9
    # The prompt carried the manifest: metrics, their synonyms, and the dimension enums.
    first = gemini.requests[0]["body"]
    system = str(first["systemInstruction"])
    assert "success_rate" in system and "hit rate" in system
    assert "genre__genre_name" in str(first["generationConfig"])


def test_a_non_metric_question_takes_the_sql_route(api, gemini):
    sql = (
        "select title, length(title) as title_length from marts.dim_movies"
        " order by title_length desc, title limit 5"
    )
    gemini.respond_with(
        drafts_then_text({"sql": sql, "chart": None, "reasoning": "no metric fits"})
    )
    response = api().post("/ask", json={"question": "Which movies have the longest titles?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == "sql" and "metric_query" not in body
    lengths = [row[1] for row in body["rows"]]
    assert len(lengths) == 5 and lengths == sorted(lengths, reverse=True)


def test_a_refused_metric_query_goes_back_for_a_correction(api, gemini):
    hostile = {
        "metric_query": {
            "metrics": ["movies"],
            "where": ["{{ Dimension('movie__title') }} in (select usename from pg_user)"],
        }
    }
    fixed = {"metric_query": {"metrics": ["movies"], "group_by": ["genre__genre_name"]}}
    gemini.respond_with(drafts_then_text(hostile, fixed))
    response = api().post("/ask", json={"question": "How many movies per genre?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attempts"] == 2 and body["route"] == "semantic"
    assert "pg_user" not in body["sql"]
    second = str(gemini.requests[1]["body"]["contents"])
    assert "was refused" in second


def test_the_bench_standin_answers_saved_questions_through_the_semantic_route(
    api, api_warehouse: ApiWarehouse
) -> None:
    from cli import gemini_standin

    client = api(
        GEMINI_BASE_URL=gemini_standin.start(target_dir=api_warehouse.dbt_target),
        GEMINI_API_KEY=gemini_standin.STANDIN_KEY,
    )
    saved = client.post("/ask-text", json={"question": "What is the success rate by genre?"})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["route"] == "semantic"
    assert body["metric_query"]["metrics"] == ["labelled_movies", "success_rate"]
    assert body["columns"] == ["genre__genre_name", "labelled_movies", "success_rate"]
    other = client.post(
        "/ask-text", json={"question": "Which month of the year has the best average rating?"}
    )
    assert other.status_code == 200, other.text
    assert other.json()["route"] == "sql" and "release_month" in other.json()["columns"]


def test_geminis_prompt_lists_the_values_the_question_names(api, gemini, api_warehouse):
    [[director]] = query(
        api_warehouse.database_url,
        "select director_name from marts.dim_movies where director_name is not null"
        " group by 1 order by count(*) desc, 1 limit 1",
    )
    longest = max(director.split(), key=len)
    misspelt = director.replace(longest, longest[:2] + longest[3:]).lower()
    gemini.respond_with(
        drafts_then_text({"metric_query": {"metrics": ["movies"]}, "chart": None, "reasoning": "r"})
    )
    response = api().post("/ask", json={"question": f"How many movies did {misspelt} direct?"})
    assert response.status_code == 200, response.text
    prompt = str(gemini.requests[0]["body"]["contents"])
    assert f"→ director {director} (dimension movie__director_name)" in prompt
