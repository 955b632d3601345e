"""The page in a real headless Chromium, against the real app served by uvicorn on loopback: the
package's warehouse, a trained model, the generated dbt docs, and a local Gemini-compatible
server scripted per test. Screenshots go to `tests/web/artifacts/` (printed; gitignored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.main import ATTRIBUTION
from tests.api.conftest import ApiWarehouse, sql_then_text
from tests.conftest import query
from tests.fake_gemini import FakeGemini
from tests.web.chromium import Chromium, Page
from tests.web.conftest import served

ARTIFACTS = Path(__file__).parent / "artifacts"
API_KEY = "web-test-key"
QUESTION = "What is the success rate by genre?"
SUCCESS_BY_GENRE = """
select genres.genre_name,
    avg(case when movies.is_commercial_success then 1.0 else 0.0 end)
        filter (where movies.is_commercial_success is not null) as success_rate
from marts.bridge_movie_genres as genres
inner join marts.dim_movies as movies on genres.movie_id = movies.movie_id
group by genres.genre_name
order by success_rate desc nulls last, genres.genre_name
"""
CHART = {"type": "bar", "x": "genre_name", "y": "success_rate", "title": "Success rate by genre"}
MOVIE = {
    "p-title": "Untitled space opera",
    "p-budget": "120000000",
    "p-release": "2027-06-18",
    "p-genres": "Science Fiction, Adventure",
    "p-runtime": "134",
    "p-language": "en",
    "p-certification": "PG-13",
    "p-director": "Jane Doe",
    "p-cast": "Somebody New, Another Person",
}
MOVIE_BODY = {
    "title": "Untitled space opera",
    "budget_usd": 120_000_000,
    "release_date": "2027-06-18",
    "genres": ["Science Fiction", "Adventure"],
    "runtime_minutes": 134,
    "original_language": "en",
    "us_certification": "PG-13",
    "director": "Jane Doe",
    "top_cast": ["Somebody New", "Another Person"],
}


@dataclass
class Live:
    url: str
    gemini: FakeGemini

    def post(self, path: str, body: dict) -> httpx.Response:
        headers = {"X-API-Key": API_KEY}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def live(api_warehouse: ApiWarehouse) -> Iterator[Live]:
    """The app (with the web router) served by uvicorn in a thread, configured by environment."""
    with FakeGemini() as gemini:
        env = {
            "DATABASE_URL": api_warehouse.database_url,
            "TMDB_ARTIFACTS_DIR": str(api_warehouse.artifacts_dir),
            "DBT_TARGET_PATH": str(api_warehouse.dbt_target),
            "TMDB_API_BASE_URL": "http://127.0.0.1:9/3",  # a local TMDB server: synthetic data
            "GEMINI_API_KEY": "test-gemini-key",
            "GEMINI_BASE_URL": gemini.url,
            "GEMINI_MODEL": "gemini-test-flash",
            "API_KEYS": API_KEY,
        }
        with served(env) as url:
            yield Live(url, gemini)


@pytest.fixture
def page(browser: Chromium, live: Live) -> Page:
    tab = browser.reused_page()
    tab.goto(f"{live.url}/")
    tab.evaluate("localStorage.clear()")
    tab.goto(f"{live.url}/")
    return tab


def shot(page: Page, name: str) -> Path:
    path = page.screenshot(ARTIFACTS / name)
    print(f"screenshot: {path}")
    return path


def visible(selector: str) -> str:
    element = f"document.querySelector({json.dumps(selector)})"
    return f"(() => {{ const e = {element}; return Boolean(e && !e.hidden); }})()"


def test_the_page_says_where_the_data_comes_from(page: Page, live: Live) -> None:
    page.wait_for("document.getElementById('health-status').dataset.status === 'ok'", "/health")
    assert page.text("#health-status") == "Service ok · model api-test"
    page.wait_for("!!document.querySelector('#notices [data-kind=synthetic]')", "the notice")
    assert page.text("#notices") == "The data shown is synthetic (local TMDB server)."
    assert page.text("#attribution") == ATTRIBUTION
    links = page.evaluate("[...document.querySelectorAll('footer a')].map(a => a.pathname)")
    assert links == ["/docs", "/dbt-docs/"]
    assert page.js_errors() == []


def test_an_example_question_needs_the_key_then_shows_rows_and_chart(page, live: Live) -> None:
    live.gemini.respond_with(
        sql_then_text(SUCCESS_BY_GENRE, answer="Some genres succeed far more often.", chart=CHART)
    )
    example = "#ask-form button.example:nth-of-type(1)"
    page.wait_for("document.querySelectorAll('#examples button.example').length > 0", "Try")
    assert page.text(example) == QUESTION
    page.click(example)
    page.wait_for(visible("#ask-error"), "the unauthorized message")
    assert page.evaluate("document.getElementById('ask-error').dataset.code") == "unauthorized"
    assert "API key" in page.text("#ask-error")

    page.fill("#api-key", API_KEY)
    page.goto(f"{live.url}/")  # the key survives a reload (localStorage)
    assert page.evaluate("document.getElementById('api-key').value") == API_KEY
    page.wait_for("document.querySelectorAll('#examples button.example').length > 0", "Try")
    page.click(example)
    page.wait_for(
        "document.querySelectorAll('#ask-table tbody tr').length > 0"
        " && document.getElementById('ask-vega').dataset.drawn === 'true'",
        "the result table and the interactive chart",
    )
    shown = page.evaluate(
        "[...document.querySelectorAll('#ask-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => JSON.parse(td.dataset.value)))"
    )
    headers = page.evaluate(
        "[...document.querySelectorAll('#ask-table thead th')].map(th => th.innerText)"
    )
    api = live.post("/ask", {"question": QUESTION, "chart": True}).json()
    assert shown == api["rows"] and len(shown) > 5
    assert headers == api["columns"] == ["genre_name", "success_rate"]
    assert page.text("#ask-answer") == "Some genres succeed far more often."
    assert page.evaluate("document.getElementById('ask-sql').textContent") == api["sql"]
    assert page.evaluate(visible("#ask-truncated")) is False
    assert page.text("#ask-meta").startswith("SQL written from the dbt docs by gemini-test-flash")
    label = page.evaluate("document.getElementById('ask-vega').getAttribute('aria-label')")
    assert label == api["chart"]["title"] and label.startswith("Success rate")
    bars = page.evaluate("document.querySelectorAll('#ask-vega svg .mark-rect path').length")
    assert bars == len(api["rows"])
    sent = [r for r in page.requests() if r["url"].endswith("/ask") and r["method"] == "POST"]
    assert sent[-1]["headers"].get("X-API-Key") == API_KEY
    assert json.loads(sent[-1]["postData"]) == {"question": QUESTION, "chart": True}
    assert page.js_errors() == []
    shot(page, "ask.png")


def test_the_metrics_panel_lists_the_metrics_and_a_click_asks_about_one(page, live) -> None:
    catalog = httpx.get(f"{live.url}/metrics", timeout=30).json()
    page.wait_for("document.querySelectorAll('#metrics-list li').length > 0", "the metrics")
    listed = page.evaluate(
        "[...document.querySelectorAll('#metrics-list li')].map(li => [li.dataset.metric,"
        " li.querySelector('button').innerText, li.querySelector('.metric-description').innerText,"
        " li.querySelector('.metric-dimensions').innerText])"
    )
    assert [row[0] for row in listed] == [m["name"] for m in catalog["metrics"]]
    success = next(m for m in catalog["metrics"] if m["name"] == "success_rate")
    shown = next(row for row in listed if row[0] == "success_rate")
    genre = next(d["label"] for d in catalog["dimensions"] if d["name"] == "genre__genre_name")
    assert shown[1] == success["label"] and shown[2] == success["description"]
    assert genre in shown[3]

    def respond(request: dict):
        if FakeGemini.wants_json(request):
            query = {"metrics": ["success_rate"], "group_by": ["metric_time__year"]}
            return {"metric_query": query, "chart": None, "reasoning": "the governed metric"}
        return "The success rate moves from year to year."

    live.gemini.respond_with(respond)
    page.fill("#api-key", API_KEY)
    page.click("#metrics-list li[data-metric=success_rate] button")
    page.wait_for("document.querySelectorAll('#ask-table tbody tr').length > 0", "the answer")
    assert page.evaluate("document.getElementById('question').value") == (
        f"{success['label']} by year"
    )
    assert page.text("#ask-meta").startswith(f"Answered from the metric {success['label']}:")
    rows = page.evaluate(
        "[...document.querySelectorAll('#ask-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => JSON.parse(td.dataset.value)))"
    )
    api = live.post("/ask", {"question": f"{success['label']} by year", "chart": True}).json()
    assert api["route"] == "semantic" and rows == api["rows"] and len(rows) > 3
    first_year = page.text("#ask-table tbody tr:first-child td:first-child")
    assert first_year == rows[0][0][:4] and first_year.isdigit()  # the period, not a timestamp
    assert page.js_errors() == []
    shot(page, "metrics.png")


def test_a_three_turn_conversation_shows_each_answer_under_its_question(
    page, live: Live, api_warehouse: ApiWarehouse
) -> None:
    since = "{{ TimeDimension('metric_time', 'day') }} >= '2010-01-01'"
    drafts = [
        {"metrics": ["success_rate"], "group_by": ["genre__genre_name"]},
        {"metrics": ["success_rate"], "group_by": ["genre__genre_name"], "where": [since]},
        {
            "metrics": ["success_rate"],
            "group_by": ["metric_time__year"],
            "where": [since],
            "order_by": ["-success_rate"],
            "limit": 5,
        },
    ]
    prompts: list[str] = []

    def respond(request: dict):
        if FakeGemini.wants_json(request):
            prompts.append(str(request["contents"]))
            query = drafts[min(len(prompts), len(drafts)) - 1]
            return {"metric_query": query, "chart": None, "reasoning": "the governed metric"}
        return f"Answer {len(prompts)}."

    live.gemini.respond_with(respond)
    page.fill("#api-key", API_KEY)
    turns = ["success rate by genre", "and only since 2010?", "now by year, just the top 5"]
    page.fill("#question", turns[0])
    page.click("#ask-submit")
    page.wait_for(visible("#followup-form"), "the follow-up box")
    for n, question in enumerate(turns[1:], start=2):
        page.fill("#followup", question)
        page.click("#followup-submit")
        page.wait_for(f"document.querySelectorAll('#thread li').length === {n}", f"turn {n}")
    thread = page.evaluate(
        "[...document.querySelectorAll('#thread li')].map(li => [li.querySelector("
        "'.turn-question').innerText, li.querySelector('.turn-answer').innerText])"
    )
    assert thread == [[q, f"Answer {i}."] for i, q in enumerate(turns, start=1)]
    sent = [
        json.loads(r["postData"])
        for r in page.requests()
        if r["url"].endswith("/ask") and r["method"] == "POST"
    ][-3:]
    assert "conversation_id" not in sent[0]
    assert sent[1]["conversation_id"] == sent[2]["conversation_id"]
    assert "<conversation>" in prompts[1] and turns[0] in prompts[1]
    rows = page.evaluate(
        "[...document.querySelectorAll('#ask-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => JSON.parse(td.dataset.value)))"
    )
    rate = (
        "count(*) filter (where is_commercial_success)::float"
        " / nullif(count(is_commercial_success), 0)"
    )
    top = [
        r
        for (r,) in query(
            api_warehouse.database_url,
            f"select {rate} from marts.dim_movies where release_date >= '2010-01-01'"
            " group by extract(year from release_date) order by 1 desc nulls last limit 5",
        )
    ]
    assert [row[1] for row in rows] == pytest.approx(top)
    shot(page, "conversation.png")
    page.click("#new-conversation")
    assert page.evaluate(visible("#thread")) is False
    assert page.js_errors() == []


def test_a_prediction_and_its_errors(page: Page, live: Live) -> None:
    page.fill("#api-key", API_KEY)
    for field, value in MOVIE.items():
        page.fill(f"#{field}", value)
    page.click("#predict-submit")
    page.wait_for(visible("#predict-result"), "the prediction")
    api = live.post("/predict", MOVIE_BODY).json()
    assert page.text("#predict-probability") == f"{api['success_probability'] * 100:.1f}%"
    width = page.evaluate("document.getElementById('predict-bar').style.width")
    assert float(width.rstrip("%")) == pytest.approx(api["success_probability"] * 100)
    assert "api-test" in page.text("#predict-meta")
    factors = page.evaluate(
        "[...document.querySelectorAll('#predict-factors tbody tr')]"
        ".map(tr => [tr.cells[0].innerText, Number(tr.cells[1].dataset.value),"
        " tr.cells[1].innerText])"
    )
    expected = [[f["feature"], f["effect"]] for f in api["top_factors"]]
    assert [[f, e] for f, e, _ in factors] == expected and expected
    signs = ("+", "\N{MINUS SIGN}", "\N{PLUS-MINUS SIGN}")
    assert all(text.endswith("percentage points") and text[0] in signs for _, _, text in factors)
    verdict = "a commercial success" if api["predicted_success"] else "not a commercial success"
    assert verdict in page.text("#predict-verdict")
    shot(page, "predict.png")

    page.fill("#p-budget", "-5")
    page.click("#predict-submit")
    page.wait_for(visible("#predict-error"), "the invalid_input message")
    refused = live.post("/predict", {**MOVIE_BODY, "budget_usd": -5}).json()["error"]
    assert page.evaluate("document.getElementById('predict-error').dataset.code") == "invalid_input"
    assert page.text("#predict-error .error-message") == refused["message"]
    assert "budget_usd" in refused["message"]
    assert page.evaluate(visible("#predict-result")) is False
    shot(page, "predict-error.png")

    page.fill("#p-budget", "120000000")
    page.send("Network.emulateNetworkConditions", offline=True, latency=0,
              downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
    try:
        page.click("#predict-submit")
        page.wait_for(
            "document.getElementById('predict-error').dataset.code === 'network'", "network failure"
        )
        assert "Could not reach the API" in page.text("#predict-error")
    finally:
        page.send("Network.emulateNetworkConditions", offline=False, latency=0,
                  downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
    page.click("#predict-submit")
    page.wait_for(visible("#predict-result"), "the prediction once back online")
    assert page.evaluate(visible("#predict-error")) is False
    assert page.js_errors() == []


def test_the_dbt_docs_site_loads(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/dbt-docs/")
    # The site's script fetches manifest.json and catalog.json, then renders the project tree.
    page.wait_for("document.body.innerText.includes('tmdb_analytics')", "the dbt docs project")
    page.goto(f"{live.url}/dbt-docs/#!/model/model.tmdb_analytics.dim_movies")
    page.wait_for(
        "document.body.innerText.includes('dim_movies')"
        " && document.body.innerText.includes('is_commercial_success')",
        "the dim_movies page of the dbt docs",
    )
    shot(page, "dbt-docs.png")
    # The semantic layer is browsable there too: a metric's page and a semantic model's page.
    page.goto(f"{live.url}/dbt-docs/#!/metric/metric.tmdb_analytics.success_rate")
    page.wait_for(
        "document.body.innerText.includes('success_rate')"
        " && document.body.innerText.includes('Share of labelled movies')",
        "the success_rate page of the dbt docs",
    )
    page.goto(f"{live.url}/dbt-docs/#!/semantic_model/semantic_model.tmdb_analytics.movie_genres")
    page.wait_for(
        "document.body.innerText.includes('movie_genres')"
        " && document.body.innerText.includes('fct_movie_genres')",
        "the movie_genres semantic model page of the dbt docs",
    )
    shot(page, "dbt-docs-semantic.png")
