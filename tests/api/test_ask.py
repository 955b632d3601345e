"""POST /ask end to end: the real SDK against a local Gemini server, the guard, the analyst role."""

from __future__ import annotations

import base64
import io

import psycopg2
from PIL import Image

from api.text_to_sql.executor import QueryExecutor, QueryFailed
from tests.api.conftest import sql_then_text
from tests.fake_gemini import FakeGemini, HttpError
from warehouse.connection import analyst_url
from warehouse.settings import Settings

TOP_ROI = "select title, roi from marts.dim_movies where roi is not null order by roi desc limit 5"


def _direct(url: str, sql: str) -> list[list]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [list(row) for row in cur.fetchall()]


def test_right_sql_gives_the_right_rows(api, gemini, api_warehouse) -> None:
    gemini.respond_with(
        sql_then_text(TOP_ROI, answer="The top movie returned its budget many times.")
    )
    response = api().post("/ask", json={"question": "Which movies had the best ROI?"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _direct(api_warehouse.database_url, TOP_ROI)
    assert body["rows"] == [[title, roi] for title, roi in expected]
    assert body["columns"] == ["title", "roi"] and body["row_count"] == 5
    assert body["answer"] == "The top movie returned its budget many times."
    assert body["attempts"] == 1 and body["model"] == "gemini-test-flash"
    assert body["sql"].startswith("SELECT") and "marts.dim_movies" in body["sql"]
    assert body["truncated"] is False and "chart" not in body
    sql_request = next(r for r in gemini.requests if FakeGemini.wants_json(r["body"]))
    system = FakeGemini.system_of(sql_request["body"])
    # The schema context comes from the dbt docs: descriptions, keys, joins, business terms.
    assert "marts.dim_movies" in system and "Return on investment" in system
    assert "joins to marts.dim_movies.movie_id" in system
    assert FakeGemini.temperature_of(sql_request["body"]) == 0


def test_unsafe_sql_is_corrected_on_the_second_attempt(api, gemini) -> None:
    gemini.respond_with(sql_then_text("delete from marts.dim_movies", TOP_ROI))
    body = api().post("/ask", json={"question": "Best ROI movies"}).json()
    assert body["attempts"] == 2 and body["row_count"] == 5
    json_requests = [r for r in gemini.requests if FakeGemini.wants_json(r["body"])]
    assert "was refused" in FakeGemini.prompt_of(json_requests[1]["body"])


def test_a_database_error_is_corrected(api, gemini) -> None:
    wrong = "select title, no_such_column from marts.dim_movies"
    gemini.respond_with(sql_then_text(wrong, TOP_ROI))
    body = api().post("/ask", json={"question": "Best ROI movies, again"}).json()
    assert body["attempts"] == 2
    json_requests = [r for r in gemini.requests if FakeGemini.wants_json(r["body"])]
    assert "no_such_column" in FakeGemini.prompt_of(json_requests[1]["body"])


def test_sql_that_stays_unsafe_is_refused_with_the_reason(api, gemini) -> None:
    gemini.respond_with(sql_then_text("select * from raw_tmdb.movies"))
    response = api().post("/ask", json={"question": "Show me the raw table"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsafe_sql" and "raw_tmdb" in error["message"]
    assert len([r for r in gemini.requests if FakeGemini.wants_json(r["body"])]) == 3


def test_text_answer_falls_back_to_a_template(api, gemini) -> None:
    gemini.queue({"sql": TOP_ROI, "chart": None, "reasoning": "x"})
    gemini.respond_with(lambda request: HttpError(500))
    body = api().post("/ask", json={"question": "ROI leaders please"}).json()
    assert body["row_count"] == 5
    assert body["answer"].startswith("The query returned 5 rows")


def test_the_same_question_reuses_its_checked_sql(api, gemini) -> None:
    gemini.respond_with(sql_then_text(TOP_ROI))
    client = api()
    first = client.post("/ask", json={"question": "Top ROI?"}).json()
    before = len([r for r in gemini.requests if FakeGemini.wants_json(r["body"])])
    second = client.post("/ask", json={"question": "  top   ROI? "}).json()
    after = len([r for r in gemini.requests if FakeGemini.wants_json(r["body"])])
    assert before == after == 1
    assert second["rows"] == first["rows"] and second["attempts"] == 0


def test_ask_visual_returns_a_png(api, gemini) -> None:
    chart = {"type": "bar", "x": "title", "y": "roi", "title": "Best ROI"}
    gemini.respond_with(sql_then_text(TOP_ROI, chart=chart))
    client = api()
    png = client.post(
        "/ask-visual", json={"question": "Chart the best ROI"}, headers={"Accept": "image/png"}
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG" and image.width > 300
    body = client.post("/ask-visual", json={"question": "Chart the best ROI"}).json()
    assert body["chart"]["type"] == "bar" and body["chart"]["title"] == "Best ROI"
    assert base64.b64decode(body["chart"]["image_png_base64"]).startswith(b"\x89PNG")


def test_an_invalid_chart_suggestion_falls_back_to_one_from_the_data(api, gemini) -> None:
    chart = {"type": "pie", "x": "nonexistent", "y": "roi"}
    gemini.respond_with(sql_then_text(TOP_ROI, chart=chart))
    body = api().post("/ask", json={"question": "ROI chart", "chart": True}).json()
    assert body["chart"]["type"] == "bar" and body["chart"]["x"] == "title"


def test_ask_text_has_no_chart_and_max_rows_truncates(api, gemini) -> None:
    gemini.respond_with(sql_then_text("select movie_id from marts.dim_movies order by movie_id"))
    body = api().post("/ask-text", json={"question": "All movie ids", "max_rows": 7}).json()
    assert body["row_count"] == 7 and body["truncated"] is True and "chart" not in body
    assert "LIMIT 8" in body["sql"]


def test_query_timeout(api, gemini) -> None:
    slow = (
        "select count(*) from marts.dim_movies as a cross join marts.dim_movies as b"
        " cross join marts.dim_movies as c"
    )
    gemini.respond_with(sql_then_text(slow))
    response = api(QUERY_TIMEOUT_MS="200").post("/ask", json={"question": "Count everything"})
    assert response.status_code == 504 and response.json()["error"]["code"] == "query_timeout"


def test_without_a_gemini_key_the_builtin_engine_answers_and_predict_works(
    api, gemini, api_warehouse
) -> None:
    client = api(GEMINI_API_KEY="")
    answered = client.post("/ask", json={"question": "How many movies are there?"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    [[movies]] = _direct(api_warehouse.database_url, "select count(*) from marts.dim_movies")
    assert body["engine"] == body["model"] == "builtin" and body["route"] == "semantic"
    assert body["rows"] == [[movies]]
    refused = client.post("/ask", json={"question": "Anything at all"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unanswerable"
    assert gemini.requests == []
    [[movie_id]] = _direct(api_warehouse.database_url, "select min(movie_id) from marts.dim_movies")
    predicted = client.post("/predict", json={"movie_id": movie_id})
    assert predicted.status_code == 200 and predicted.json()["movie_id"] == movie_id
    health = client.get("/health").json()
    assert health["model_version"] == "api-test"


def test_ask_engine_gemini_without_a_key_is_a_clean_503(api, gemini) -> None:
    response = api(GEMINI_API_KEY="", ASK_ENGINE="gemini").post(
        "/ask", json={"question": "How many movies are there?"}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_unavailable"
    assert gemini.requests == []


def test_llm_outage_is_a_clean_503_with_ask_engine_gemini(api, gemini) -> None:
    gemini.respond_with(lambda request: HttpError(503))
    response = api(ASK_ENGINE="gemini").post("/ask", json={"question": "Is the model up?"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "llm_unavailable" and "test-gemini-key" not in response.text


def test_llm_outage_falls_back_to_the_builtin_engine_saying_so(api, gemini, api_warehouse):
    gemini.respond_with(lambda request: HttpError(503))
    response = api().post("/ask", json={"question": "How many movies are there?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "builtin" and body["answer"].startswith("Gemini was unavailable")
    [[movies]] = _direct(api_warehouse.database_url, "select count(*) from marts.dim_movies")
    assert body["rows"] == [[movies]] and gemini.requests


def test_the_analyst_role_is_a_second_wall(api_warehouse, monkeypatch) -> None:
    """Even with the guard bypassed, the role cannot write or read outside marts."""
    monkeypatch.setenv("DATABASE_URL", api_warehouse.database_url)
    executor = QueryExecutor(analyst_url(Settings()))
    try:
        for sql in (
            "delete from marts.dim_movies",
            "insert into marts.dim_genres values (1, 'x')",
            "create table marts.sneaky (id int)",
            "select * from raw_tmdb.movies",
            "select * from staging.stg_tmdb__movies",
            "select * from intermediate.int_movies__current",
        ):
            try:
                executor.run(sql, 5)
            except QueryFailed as exc:
                assert "read-only" in str(exc) or "permission denied" in str(exc), (sql, exc)
            else:
                raise AssertionError(f"{sql} ran as tmdb_analyst")
        assert executor.run("select count(*) from marts.dim_movies", 1).rows[0][0] > 0
    finally:
        executor.close()


def test_a_blank_question_is_refused_on_every_ask_route_before_any_model_call(api, gemini) -> None:
    client = api()
    for path in ("/ask", "/ask-text", "/ask-visual"):
        for question in ("   ", " \t\n  ", "\u3000\u3000\u3000"):
            response = client.post(path, json={"question": question})
            assert response.status_code == 422, (path, question, response.text)
            error = response.json()["error"]
            assert error == {"code": "invalid_input", "message": "question: must not be blank"}
    assert gemini.requests == []


def test_the_chart_title_in_the_json_is_the_title_on_the_png(api, gemini, monkeypatch) -> None:
    from matplotlib.axes import Axes

    drawn: list[str] = []
    set_title = Axes.set_title

    def recording(self, label, *args, **kwargs):
        drawn.append(label)
        return set_title(self, label, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_title", recording)
    sql = "select title, budget_usd from marts.dim_movies where budget_usd > 0 order by movie_id"
    chart = {"type": "bar", "x": "title", "y": "budget_usd", "title": "Budgets"}
    gemini.respond_with(sql_then_text(sql, chart=chart))
    client = api()
    question = {"question": "Budgets of the first movies", "max_rows": 40, "chart": True}
    body = client.post("/ask", json=question).json()
    assert body["row_count"] == 40
    # More bars than are drawn: the image says so, and so does the JSON.
    assert body["chart"]["title"] == "Budgets (top 25 of 40)"
    assert drawn == [body["chart"]["title"]]
    visual = client.post("/ask-visual", json={"question": "Budgets, as a picture"}).json()
    png = client.post(
        "/ask-visual", json={"question": "Budgets, as a picture"}, headers={"Accept": "image/png"}
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert drawn[1:] == [visual["chart"]["title"]] * 2


def test_the_executor_keeps_its_connections_open_between_queries(api_warehouse, monkeypatch):
    """A pooled connection is reused, not reopened per query (each reopening cost most of a
    /predict by id); concurrent callers still get connections of their own."""
    monkeypatch.setenv("DATABASE_URL", api_warehouse.database_url)
    executor = QueryExecutor(analyst_url(Settings()), max_connections=3)
    try:
        pids = {executor.run("select pg_backend_pid()", 1).rows[0][0] for _ in range(5)}
        assert len(pids) == 1
        with executor.connection() as first, executor.connection() as second:
            assert first.get_backend_pid() != second.get_backend_pid()
        again = {executor.run("select pg_backend_pid()", 1).rows[0][0] for _ in range(5)}
        assert again <= pids | {first.get_backend_pid(), second.get_backend_pid()}
    finally:
        executor.close()
