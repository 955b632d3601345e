"""The Explore view, interactive charts and suggested questions in a real headless Chromium,
against the app served on loopback with the built-in engine over the package's warehouse.

Figures are checked against SQL written by hand on the marts; the charts are vega-embed's,
from the vendored libraries, under the page's CSP (a refused eval or style would show in the
page's errors)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from tests.api.conftest import ApiWarehouse
from tests.conftest import query
from tests.web.chromium import Chromium, Page
from tests.web.conftest import served

SINCE_2000 = "{{ TimeDimension('metric_time', 'day') }} >= '2000-01-01'"
RATE = (
    "count(*) filter (where m.is_commercial_success)::float"
    " / nullif(count(m.is_commercial_success), 0)"
)
ROWS = (
    "[...document.querySelectorAll('#{table} tbody tr')]"
    ".map(tr => [...tr.cells].map(td => JSON.parse(td.dataset.value)))"
)


@pytest.fixture(scope="module")
def url(api_warehouse: ApiWarehouse) -> Iterator[str]:
    env = {
        "DATABASE_URL": api_warehouse.database_url,
        "TMDB_ARTIFACTS_DIR": str(api_warehouse.artifacts_dir),
        "DBT_TARGET_PATH": str(api_warehouse.dbt_target),
        "ASK_ENGINE": "builtin",
    }
    with served(env) as served_url:
        yield served_url


@pytest.fixture
def page(browser: Chromium) -> Page:
    return browser.reused_page()


def rows_of(page: Page, table: str) -> list[list]:
    return page.evaluate(ROWS.format(table=table))


def ask(page: Page, url: str, question: str) -> None:
    page.goto(f"{url}/")
    page.fill("#question", question)
    page.click("#ask-submit")
    page.wait_for(
        "!document.getElementById('ask-result').hidden"
        " || !document.getElementById('ask-error').hidden",
        f"the answer to {question!r}",
    )


def by_genre_since_2000(database_url: str) -> dict[str, float | None]:
    return dict(
        query(
            database_url,
            f"select g.genre_name, {RATE} from marts.bridge_movie_genres as g"
            " inner join marts.dim_movies as m on m.movie_id = g.movie_id"
            " where m.release_date >= '2000-01-01' group by g.genre_name",
        )
    )


def by_year_since_2000(database_url: str) -> dict[int, float | None]:
    return {
        int(year): rate
        for year, rate in query(
            database_url,
            f"select extract(year from m.release_date), {RATE} from marts.dim_movies as m"
            " where m.release_date >= '2000-01-01' group by 1",
        )
    }


def same(shown: float | None, expected: float | None) -> bool:
    if shown is None or expected is None:
        return shown is expected
    return math.isclose(shown, expected, rel_tol=1e-9)


def test_explore_builds_a_query_switches_it_to_a_line_by_year_and_the_link_reproduces_it(
    page: Page, url: str, api_warehouse: ApiWarehouse
) -> None:
    page.goto(f"{url}/explore")
    page.wait_for("document.querySelectorAll('#x-metrics option').length > 20", "the metrics")
    assert page.evaluate("document.getElementById('ask-section').hidden") is True
    groups = page.evaluate(
        "[...document.querySelectorAll('#x-metrics optgroup')].map(g => g.label)"
    )
    assert {"Success and return", "Money", "Catalogue"} <= set(groups)
    page.evaluate(
        "(() => { const s = document.getElementById('x-metrics');"
        " s.querySelector('option[value=success_rate]').selected = true;"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert "Share of labelled movies" in page.text("#x-metric-descriptions")
    page.fill("#x-group-1", "genre__genre_name")
    page.click("#x-add-filter")
    page.fill("#x-filters li:first-child .x-dimension", "release year")
    page.fill("#x-filters li:first-child .x-op", ">=")
    page.fill("#x-filters li:first-child .x-values", "2000")
    page.fill("#x-chart-type", "bar")
    page.click("#x-run")
    page.wait_for("document.querySelectorAll('#x-table tbody tr').length > 5", "the genres")
    state = parse_qs(urlsplit(page.evaluate("location.href")).query)
    assert state == {
        "metrics": ["success_rate"],
        "group_by": ["genre__genre_name"],
        "where": [SINCE_2000],
        "chart": ["bar"],
    }
    expected = by_genre_since_2000(api_warehouse.database_url)
    shown = rows_of(page, "x-table")
    assert {genre for genre, _ in shown} == set(expected)
    assert all(same(rate, expected[genre]) for genre, rate in shown)
    page.wait_for("document.getElementById('x-chart').dataset.drawn === 'true'", "the bar chart")
    assert "SELECT" in page.text("#x-sql").upper()
    href = page.evaluate("document.getElementById('x-csv').href")
    csv = unquote(href.removeprefix("data:text/csv;charset=utf-8,"))
    assert csv.splitlines()[0] == "genre__genre_name,success_rate"
    assert len(csv.splitlines()) == len(shown) + 1

    # The same metric by year, as a line.
    page.fill("#x-group-1", "metric_time__year")
    page.fill("#x-chart-type", "line")
    page.click("#x-run")
    page.wait_for("location.search.includes('chart=line')", "the new link")
    page.wait_for(
        "document.querySelector('#x-table thead th').innerText === 'metric_time__year'"
        " && document.getElementById('x-chart').dataset.drawn === 'true'",
        "the series and its chart",
    )
    series = rows_of(page, "x-table")
    link = page.evaluate("location.href")
    assert parse_qs(urlsplit(link).query)["group_by"] == ["metric_time__year"]

    page.goto(link)  # a reload of the link: the same view and the same table
    page.wait_for("document.querySelectorAll('#x-table tbody tr').length > 3", "the series again")
    assert rows_of(page, "x-table") == series
    assert page.evaluate("document.getElementById('x-chart-type').value") == "line"
    assert page.evaluate("document.querySelector('#x-filters .x-values').value") == "2000"
    years = by_year_since_2000(api_warehouse.database_url)
    assert {int(when[:4]) for when, _ in series} == set(years)
    assert all(same(rate, years[int(when[:4])]) for when, rate in series)

    # Hovering a point shows its figure, exactly, in a tooltip.
    page.wait_for("document.getElementById('x-chart').dataset.drawn === 'true'", "the line chart")
    point = page.evaluate(
        "(() => { document.getElementById('x-chart').scrollIntoView({block: 'center'});"
        " const marks = [...document.querySelectorAll('#x-chart svg .mark-symbol path')];"
        " const r = marks[marks.length - 1].getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.send("Input.dispatchMouseEvent", type="mouseMoved", x=point[0], y=point[1])
    page.wait_for(
        "!!document.querySelector('#vg-tooltip-element.visible')", "the tooltip of a point"
    )
    tooltip = page.text("#vg-tooltip-element")
    year = re.search(r"Release year\s+(\d{4})", tooltip)[1]
    figure = float(re.search(r"Success rate\s+([\d.,]+)", tooltip)[1].replace(",", ""))
    rate = next(rate for when, rate in series if when.startswith(year))
    assert rate is not None and math.isclose(figure, rate, rel_tol=1e-9, abs_tol=1e-12)
    assert page.js_errors() == []


def test_open_in_explore_reproduces_an_answer_and_a_refusal_opens_what_was_understood(
    page: Page, url: str
) -> None:
    ask(page, url, "success rate by genre since 2000")
    page.wait_for("document.getElementById('ask-vega').dataset.drawn === 'true'", "the chart")
    answer = rows_of(page, "ask-table")
    link = page.evaluate("document.getElementById('ask-explore').href")
    assert "/explore?" in link
    page.click("#ask-explore")
    page.wait_for("location.pathname === '/explore'", "Explore")
    page.wait_for("document.querySelectorAll('#x-table tbody tr').length > 0", "its table")
    assert rows_of(page, "x-table") == answer

    ask(page, url, "success rate by genre for Nobody Atall since 2000")
    assert page.evaluate("document.getElementById('ask-error').dataset.code") == "unanswerable"
    page.wait_for("!document.getElementById('refusal-next').hidden", "what to do instead")
    refusal = page.evaluate("document.getElementById('refusal-explore').href")
    state = parse_qs(urlsplit(refusal).query)
    assert state["metrics"] == ["success_rate"] and state["where"] == [SINCE_2000]
    chips = page.evaluate(
        "[...document.querySelectorAll('#refusal-suggestions button')].map(b => b.innerText)"
    )
    assert chips and all(httpx.post(f"{url}/ask", json={"question": q}).status_code == 200
                         for q in chips)  # fmt: skip
    assert page.js_errors() == []


def test_every_suggestion_of_three_answers_answers(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    page.wait_for("document.querySelectorAll('#examples button.example').length > 0", "Try")
    tries = page.evaluate(
        "[...document.querySelectorAll('#examples button')].map(b => b.innerText)"
    )
    assert tries == httpx.get(f"{url}/web/suggestions").json()["suggestions"]
    seen = 0
    for question in ("success rate by genre", "median roi by year", "average budget by director"):
        ask(page, url, question)
        page.wait_for("!document.getElementById('ask-suggestions').hidden", "the next questions")
        chips = page.evaluate(
            "[...document.querySelectorAll('#ask-suggestions button')].map(b => b.innerText)"
        )
        assert 1 <= len(chips) <= 3
        for chip in chips:
            response = httpx.post(f"{url}/ask", json={"question": chip}, timeout=30)
            assert response.status_code == 200, (chip, response.text)
            seen += 1
    page.click("#ask-suggestions button.example")  # a chip asks its question
    page.wait_for(
        f"document.getElementById('question').value === {json.dumps(chips[0])}"
        " && !document.getElementById('ask-result').hidden",
        "the chip's answer",
    )
    assert seen >= 6 and page.js_errors() == []
