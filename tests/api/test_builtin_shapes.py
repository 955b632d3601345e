"""The built-in engine answers with the shape its question asks for, or refuses (issue 26).

Each test asks over HTTP (no Gemini key) and compares the rows with hand-written SQL on the
marts: a question about films lists or ranks films (one row per film, with its year), "how
many X" is one number, "A vs B" is one figure per side, a share carries its numerator and
denominator; the shapes that used to come back wrong come back right or refused."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from cli.demo import EXAMPLE_QUESTIONS
from tests.conftest import query

WEB_INDEX = Path(__file__).resolve().parents[2] / "api" / "web" / "index.html"


@pytest.fixture
def ask(api):
    client = api(GEMINI_API_KEY="")

    def post(question: str):
        return client.post("/ask-text", json={"question": question, "max_rows": 1000})

    return post


@pytest.fixture
def url(api_warehouse) -> str:
    return api_warehouse.database_url


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "builtin" and body["route"] == "semantic"
    return body


def _refused(response) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unanswerable"
    return error["message"]


def _films(body: dict) -> list[tuple[str, int]]:
    """(title, year) of each row of a movie-shaped answer, in order."""
    columns = body["columns"]
    title, year = columns.index("movie__title"), columns.index("movie__release_year")
    return [(row[title], row[year]) for row in body["rows"]]


def _figure(body: dict, metric: str) -> list:
    return [row[body["columns"].index(metric)] for row in body["rows"]]


def test_the_highest_rated_movie_of_a_year_is_a_film_not_a_certification(ask, url) -> None:
    [[year]] = query(
        url,
        "select release_year from marts.dim_movies where vote_average is not null group by 1"
        " having count(*) >= 5 order by count(*) desc, 1 limit 1",
    )
    hand = query(
        url,
        "select title, release_year, vote_average from marts.dim_movies"
        f" where release_year = {year} and vote_average is not null"
        " order by vote_average desc, title limit 1",
    )
    body = _ok(ask(f"What is the highest rated movie of {year}?"))
    assert "movie" in body["columns"], body["columns"]  # one row per film, by its id
    assert _films(body) == [(hand[0][0], hand[0][1])]
    assert math.isclose(_figure(body, "average_rating")[0], hand[0][2])
    assert f"{hand[0][0]} ({year})" in body["answer"]


def test_top_n_highest_rated_of_a_director(ask, url) -> None:
    [[director]] = query(
        url,
        "select director_name from marts.dim_movies where vote_average is not null"
        " and director_name is not null group by 1 order by count(*) desc, 1 limit 1",
    )
    hand = query(
        url,
        "select title, release_year from marts.dim_movies where director_name = %s"
        " and vote_average is not null order by vote_average desc, title limit 3",
        (director,),
    )
    body = _ok(ask(f"Top 3 highest rated {director} movies"))
    assert _films(body) == [tuple(r) for r in hand]


def test_how_many_directors_is_one_number(ask, url) -> None:
    [[hand]] = query(url, "select count(distinct director_name) from marts.dim_movies")
    body = _ok(ask("How many directors are there?"))
    assert body["rows"] == [[hand]]
    [[genres]] = query(url, "select count(distinct genre_id) from marts.bridge_movie_genres")
    assert _ok(ask("how many different genres are there"))["rows"] == [[genres]]


def test_a_list_of_films_is_a_list_not_a_count(ask, url) -> None:
    [[year]] = query(
        url,
        "select release_year from marts.dim_movies where release_year is not null group by 1"
        " order by count(*) desc, 1 limit 1",
    )
    hand = sorted(
        tuple(r)
        for r in query(
            url, f"select title, release_year from marts.dim_movies where release_year = {year}"
        )
    )
    body = _ok(ask(f"List the movies released in {year}"))
    assert sorted(_films(body)) == hand and len(hand) > 1
    [[director]] = query(
        url,
        "select director_name from marts.dim_movies where director_name is not null"
        " group by 1 order by count(*) desc, 1 limit 1",
    )
    directed = {tuple(r) for r in query(
        url, "select title, release_year from marts.dim_movies where director_name = %s",
        (director,),
    )}  # fmt: skip
    assert set(_films(_ok(ask(f"which films did {director} direct?")))) == directed


def test_which_month_is_a_month_of_the_year(ask, url) -> None:
    [(month, count)] = query(
        url,
        "select extract(month from release_date)::int, count(*) from marts.dim_movies"
        " where release_date is not null group by 1 order by 2 desc, 1 limit 1",
    )
    body = _ok(ask("Which month has the most releases?"))
    assert body["rows"] == [[month, count]]
    month_name = [
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ][month - 1]  # fmt: skip
    assert month_name in body["answer"] and "unknown" not in body["answer"]


def test_a_title_shared_by_two_films_answers_each_film(ask, url) -> None:
    [[title]] = query(
        url,
        "select title from marts.dim_movies where revenue_usd is not null group by title"
        " having count(*) > 1 order by title limit 1",
    )
    hand = query(
        url,
        "select release_year, revenue_usd from marts.dim_movies where title = %s",
        (title,),
    )
    body = _ok(ask(f"What was the revenue of {title}?"))
    assert len(body["rows"]) == len(hand) > 1  # one row per film, never a sum of the remakes
    got = sorted(zip(_films(body), _figure(body, "total_revenue_usd"), strict=True),
                 key=lambda f: f[0][1] or 0)  # fmt: skip
    assert [(y, r) for (_, y), r in got] == sorted(hand, key=lambda h: h[0] or 0)


def test_a_directors_decades_side_by_side(ask, url) -> None:
    [(director,)] = query(
        url,
        "select director_name from marts.dim_movies where release_year between 1980 and 1999"
        " and director_name is not null group by 1"
        " having count(distinct (release_year / 10)) = 2 order by count(*) desc, 1 limit 1",
    )
    hand = {
        decade: n
        for decade, n in query(
            url,
            "select (release_year / 10) * 10, count(*) from marts.dim_movies"
            " where director_name = %s and release_year between 1980 and 1999 group by 1",
            (director,),
        )
    }
    body = _ok(ask(f"{director}'s films in the 80s vs the 90s"))
    assert {row[0]: row[1] for row in body["rows"]} == hand and len(hand) == 2
    assert "1980s" in body["answer"] and "1990s" in body["answer"]


def test_one_movies_attributes_with_and_without_the_article(ask, url) -> None:
    [(title, year, budget, director)] = query(
        url,
        "select title, release_year, budget_usd, director_name from marts.dim_movies m"
        " where title like 'The %%' and budget_usd is not null and director_name is not null"
        " and (select count(*) from marts.dim_movies o where o.title = m.title) = 1"
        " and not exists (select 1 from marts.dim_movies o where o.title = substr(m.title, 5))"
        " order by budget_usd desc, movie_id limit 1",
    )
    bare = title.removeprefix("The ")
    for asked in (f"What was the budget of {title}?", f"budget of {bare}"):
        body = _ok(ask(asked))
        assert _films(body) == [(title, year)], asked
        assert _figure(body, "total_budget_usd") == [budget], asked
    who = _ok(ask(f"Who directed {bare}?"))
    assert _figure(who, "movie__director_name") == [director]


@pytest.mark.parametrize(
    ("question", "condition"),
    [
        ("How many films cost more than $80M?", "budget_usd > 80000000"),
        ("how many movies run over 2 hours", "runtime_minutes > 120"),
        ("How many movies are rated 7.5 or higher?", "vote_average >= 7.5"),
        (
            "how many movies made between 100 and 200 million",
            "revenue_usd between 100000000 and 200000000",
        ),
        ("number of films with at least 5k votes", "vote_count >= 5000"),
    ],
)
def test_thresholds_with_units(ask, url, question, condition) -> None:
    [[hand]] = query(url, f"select count(*) from marts.dim_movies where {condition}")
    assert _ok(ask(question))["rows"] == [[hand]]


def test_a_list_under_a_threshold_and_a_money_bound_without_a_figure(ask, url) -> None:
    hand = {tuple(r) for r in query(
        url, "select title, release_year from marts.dim_movies where vote_average >= 7.5"
    )}  # fmt: skip
    assert set(_films(_ok(ask("films rated 7.5 or higher")))) == hand
    message = _refused(ask("movies over $100 million"))
    assert "budget" in message and "revenue" in message  # both readings named


def test_a_month_of_a_year_and_a_quarter(ask, url) -> None:
    [(year, month)] = query(
        url,
        "select release_year, extract(month from release_date)::int from marts.dim_movies"
        " where release_date is not null group by 1, 2 order by count(*) desc, 1, 2 limit 1",
    )
    [[hand]] = query(
        url,
        "select count(*) from marts.dim_movies where release_year = %s"
        " and extract(month from release_date) = %s",
        (year, month),
    )
    names = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]  # fmt: skip
    body = _ok(ask(f"How many movies were released in {names[month - 1]} {year}?"))
    assert body["rows"] == [[hand]]
    quarters = dict(query(
        url,
        "select extract(quarter from release_date)::int, count(*) from marts.dim_movies"
        " where release_year = %s group by 1",
        (year,),
    ))  # fmt: skip
    series = _ok(ask(f"releases per quarter in {year}"))
    got = {
        row[series["columns"].index("movie__release_quarter")]: row[-1] for row in series["rows"]
    }
    assert got == quarters
    assert re.search(rf"\b{year} Q[1-4]\b", series["answer"])  # a date at its grain


def test_by_decade(ask, url) -> None:
    hand = dict(query(
        url,
        "select (release_year / 10) * 10, count(*) from marts.dim_movies"
        " where release_year is not null group by 1",
    ))  # fmt: skip
    body = _ok(ask("How many movies per decade?"))
    assert {row[0]: row[1] for row in body["rows"]} == hand


def test_two_years_compared_is_one_figure_each(ask, url) -> None:
    hand = dict(query(
        url,
        "select release_year, count(*) from marts.dim_movies"
        " where release_year in (2003, 2004) group by 1",
    ))  # fmt: skip
    body = _ok(ask("did 2003 or 2004 have more releases?"))
    assert {int(str(row[0])[:4]): row[1] for row in body["rows"]} == hand and len(hand) == 2


def test_a_share_carries_its_numerator_and_denominator(ask, url) -> None:
    [(part, whole)] = query(
        url,
        "select count(*) filter (where exists (select 1 from marts.bridge_movie_genres b"
        " where b.movie_id = m.movie_id and b.genre_name = 'Comedy')), count(*)"
        " from marts.dim_movies m",
    )
    body = _ok(ask("What fraction of films are comedies?"))
    [[numerator, denominator, share]] = body["rows"]
    assert (numerator, denominator) == (part, whole)
    assert math.isclose(share, part / whole)
    assert f"{part} of {whole}" in body["answer"].replace(",", "")


def test_a_surname_shared_by_directors_is_a_question_back(ask, url) -> None:
    rows = query(
        url,
        "with d as (select director_name, split_part(director_name, ' ', 2) as surname,"
        " count(*) as n from marts.dim_movies where director_name like '%% %%'"
        " group by 1) select surname from d group by surname"
        " having count(*) >= 2 and max(n) < 3 * min(n) order by surname limit 1",
    )
    assert rows, "the test catalogue has directors sharing a surname"
    message = _refused(ask(f"How many films did {rows[0][0]} direct?"))
    assert "which one" in message


@pytest.mark.parametrize(
    "question",
    [
        *EXAMPLE_QUESTIONS,
        *re.findall(r'class="example">([^<]+)<', WEB_INDEX.read_text(encoding="utf-8")),
    ],
)
def test_every_printed_example_and_try_chip_answers(ask, question) -> None:
    body = _ok(ask(question))
    assert body["rows"], question


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("How many flops are there?", "'flop' is not a synonym of a hit"),
        ("What was the best year for horror?", "'best' judges by a figure the question omits"),
        ("average rating of the top 10 movies", "an aggregate of a ranked set"),
        ("What is the budget of the movie with the highest revenue?", "ranked by which figure?"),
        ("Average rating of movies in the summer", "a common word is not the film 'The Summer'"),
    ],
)
def test_questions_once_answered_wrongly_are_refused(ask, question, why) -> None:
    _refused(ask(question))


def test_how_much_without_a_figure_is_not_a_count_of_films(ask, url) -> None:
    [[director]] = query(
        url,
        "select director_name from marts.dim_movies where director_name is not null"
        " group by 1 order by count(*) desc, 1 limit 1",
    )
    assert "amount" in _refused(ask(f"How much did {director}'s movies make in total?"))


def test_films_named_first_are_listed_and_a_known_figure_filters(ask, url) -> None:
    hand = sorted(tuple(r) for r in query(
        url, "select title, release_year from marts.dim_movies where runtime_minutes > 135"
    ))  # fmt: skip
    assert sorted(_films(_ok(ask("Films longer than 2.25 hours")))) == hand and hand
    [[known]] = query(url, "select count(*) from marts.dim_movies where budget_usd is not null")
    assert _ok(ask("How many movies have a budget?"))["rows"] == [[known]]


def test_a_title_that_holds_a_year_is_the_title(ask, url) -> None:
    [(title, runtime)] = query(
        url,
        "select title, runtime_minutes from marts.dim_movies m"
        " where title ~ '^[A-Z][a-z]+ (19|20)[0-9][0-9]$' and runtime_minutes is not null"
        " and (select count(*) from marts.dim_movies o where o.title = m.title) = 1"
        " order by title limit 1",
    )
    body = _ok(ask(f"How long is {title}?"))
    assert _figure(body, "average_runtime_minutes") == [runtime]
    assert not any("TimeDimension" in w for w in body["metric_query"]["where"])


def test_a_person_who_directs_and_acts_as_much_is_asked_back(ask, url) -> None:
    rows = query(
        url,
        "with d as (select director_name as name, count(*) as directed from marts.dim_movies"
        " group by 1), a as (select p.name, count(*) as acted from marts.fct_movie_cast c"
        " join marts.dim_people p on p.person_id = c.person_id group by 1)"
        " select d.name from d join a on a.name = d.name"
        " where a.acted * 3 > d.directed and d.directed * 3 > a.acted"
        " order by d.directed desc, 1 limit 1",
    )
    assert rows, "the test catalogue has a director who acts about as much"
    message = _refused(ask(f"How many {rows[0][0]} movies are there?"))
    assert "directed" in message and "acted" in message  # both readings named
    assert _ok(ask(f"How many movies did {rows[0][0]} direct?"))["rows"]


def test_a_follow_up_of_a_list_of_films_lists_films(api, url) -> None:
    client = api(GEMINI_API_KEY="")
    [[year]] = query(
        url,
        "select release_year from marts.dim_movies where release_year is not null group by 1"
        " order by count(*) desc, 1 limit 1",
    )
    first = client.post("/ask-text", json={"question": f"List the movies released in {year}"})
    cid = _ok(first)["conversation_id"]
    follow = _ok(client.post(
        "/ask-text",
        json={"question": "just the top 3 by revenue", "conversation_id": cid},
    ))  # fmt: skip
    hand = query(
        url,
        "select title, release_year from marts.dim_movies where release_year = %s"
        " and revenue_usd is not null order by revenue_usd desc, title limit 3",
        (year,),
    )
    assert _films(follow) == [tuple(r) for r in hand]


def test_a_how_many_follow_up_keeps_the_earlier_grouping(api, url) -> None:
    client = api(GEMINI_API_KEY="")
    cid = _ok(client.post("/ask-text", json={"question": "How many movies by genre?"}))[
        "conversation_id"
    ]
    body = _ok(
        client.post("/ask-text", json={"question": "how many in 2010?", "conversation_id": cid})
    )
    hand = dict(
        query(
            url,
            "select b.genre_name, count(*) from marts.bridge_movie_genres b"
            " join marts.dim_movies m on m.movie_id = b.movie_id"
            " where m.release_year = 2010 group by 1",
        )
    )
    assert {row[0]: row[1] for row in body["rows"]} == hand and hand
