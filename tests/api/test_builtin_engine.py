"""The built-in engine over the test catalogue (no Gemini key): questions answered with the
figures of hand-written SQL, names found when misspelt or partial, and honest refusals."""

from __future__ import annotations

import math

import pytest

from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse

TOP_DIRECTOR = (
    "select director_name from marts.dim_movies where director_name is not null"
    " group by 1 order by count(*) desc, 1 limit 1"
)


@pytest.fixture
def builtin(api):
    client = api(GEMINI_API_KEY="")

    def ask(question: str):
        return client.post("/ask-text", json={"question": question})

    return ask


def _typo(name: str) -> str:
    """A misspelling: one letter dropped from the longest word."""
    longest = max(name.split(), key=len)
    return name.replace(longest, longest[:2] + longest[3:], 1)


def _answer(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "builtin" and body["route"] == "semantic"
    return body


def test_a_directors_count_by_full_misspelt_and_partial_name(builtin, api_warehouse) -> None:
    url = api_warehouse.database_url
    [[director]] = query(url, TOP_DIRECTOR)
    [[expected]] = query(
        url, f"select count(*) from marts.dim_movies where director_name = '{director}'"
    )
    for asked in (
        f"How many movies did {director} direct?",
        f"how many films has {_typo(director).lower()} directed",
        f"Number of movies directed by {director.split()[-1]}",
    ):
        body = _answer(builtin(asked))
        assert body["rows"] == [[expected]], asked
        assert any(f"director {director}" in line for line in body["understood"]), asked


def test_a_rate_by_genre_since_a_year(builtin, api_warehouse) -> None:
    body = _answer(builtin("What's the success rate per genre since 2010?"))
    expected = dict(
        query(
            api_warehouse.database_url,
            "select b.genre_name, count(*) filter (where m.is_commercial_success)::float"
            " / nullif(count(m.is_commercial_success), 0) from marts.bridge_movie_genres as b"
            " inner join marts.dim_movies as m on b.movie_id = m.movie_id"
            " where m.release_date >= '2010-01-01' group by 1",
        )
    )
    got = {row[0]: row[1] for row in body["rows"]}
    assert got.keys() == expected.keys()
    for genre, rate in expected.items():
        assert (got[genre] is None and rate is None) or math.isclose(got[genre], rate)


def test_top_n_and_a_decade_series(builtin, api_warehouse) -> None:
    url = api_warehouse.database_url
    top = _answer(builtin("Which 3 directors have made the most movies?"))
    counts = [row[1] for row in top["rows"]]
    expected = [
        n
        for (n,) in query(
            url,
            "select count(*) from marts.dim_movies where director_name is not null"
            " group by director_name order by 1 desc limit 3",
        )
    ]
    assert counts == expected and len(counts) == 3
    series = _answer(builtin("average budget by year in the 1990s"))
    by_year = {row[0][:4]: row[1] for row in series["rows"]}
    hand = {
        str(year): budget
        for year, budget in query(
            url,
            "select extract(year from release_date)::int, avg(budget_usd) from marts.dim_movies"
            " where release_date between '1990-01-01' and '1999-12-31' group by 1",
        )
    }
    assert by_year.keys() == hand.keys() and len(hand) > 3
    for year, budget in hand.items():
        assert (budget is None and by_year[year] is None) or math.isclose(by_year[year], budget)
    assert list(by_year) == sorted(by_year)


@pytest.mark.parametrize(
    "question",
    [
        "What's the weather like in Paris tomorrow?",
        "Write me a poem about cinema",
        "How many Oscars did the top movie win?",
        "What is the box office of movies in China?",
        "Delete all movies released before 1950",
        "Set the budget of every movie to zero",
        "drop table marts.dim_movies",
    ],
)
def test_what_it_cannot_answer_is_refused_with_what_it_understood(builtin, question) -> None:
    response = builtin(question)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unanswerable"
    assert "Try:" in error["message"] or "only reads" in error["message"]


def test_a_chart_is_drawn_from_the_builtin_reading(api, api_warehouse: ApiWarehouse) -> None:
    client = api(GEMINI_API_KEY="")
    response = client.post("/ask", json={"question": "movies per year", "chart": True})
    body = _answer(response)
    assert body["chart"]["type"] == "line" and body["chart"]["x"] == "metric_time__year"
    assert body["chart"]["image_png_base64"]


def test_a_production_company_is_recognised_and_refused_honestly(builtin, api_warehouse):
    [[company]] = query(
        api_warehouse.database_url,
        "select company from marts.ml_movie_features, unnest(production_company_names)"
        " as company group by 1 order by count(*) desc, 1 limit 1",
    )
    response = builtin(f"average budget of {company} movies")
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert f"'{company}' is a production company" in message
    assert "Nothing in the catalogue" not in message  # it exists: the refusal says why
