"""A catalogue can add the oddities real catalogues hold, and only when asked."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from ingestion.fake_tmdb.catalogue import OUTLIERS, Catalogue

TODAY = date(2026, 1, 15)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tmdb"


def _records(catalogue: Catalogue, ids: list[int]) -> list[dict]:
    return [catalogue.details(movie_id) for movie_id in ids]


def test_outliers_come_only_when_asked_and_leave_the_other_films_alone() -> None:
    plain = Catalogue(9, 150, today=TODAY)
    assert plain.outlier_ids == {}
    odd = Catalogue(9, 150, today=TODAY, outliers=True)
    assert list(odd.outlier_ids) == [title for title, _ in OUTLIERS]
    extra = sorted(odd.outlier_ids.values())
    assert odd.movie_ids() == plain.movie_ids() + extra
    assert min(extra) > max(plain.movie_ids())
    assert _records(odd, plain.movie_ids()) == _records(plain, plain.movie_ids())
    assert {row["id"] for row in odd.export_rows()} >= set(extra)
    again = Catalogue(9, 150, today=TODAY, outliers=True)
    assert _records(again, again.movie_ids()) == _records(odd, odd.movie_ids())


def test_each_outlier_has_its_oddity() -> None:
    cat = Catalogue(9, 150, today=TODAY, outliers=True)
    films = {title: cat.details(movie_id) for title, movie_id in cat.outlier_ids.items()}
    assert all(not r["adult"] and r["title"] == title for title, r in films.items())
    assert films["The Cure for Insomnia"]["runtime"] == 5_220
    assert films["Logistics"]["runtime"] > 10_000
    assert {films[t]["budget"] for t in ("One Dollar Picture", "Five Dollar Picture")} == {1, 5}
    assert films["Four Billion Picture"]["budget"] == 4_000_000_000
    assert films["Fifty Billion Picture"]["revenue"] == 50_000_000_000
    assert (films["Perfect Ten"]["vote_average"], films["Perfect Ten"]["vote_count"]) == (10.0, 1)
    assert films["Passage de Vénus"]["release_date"] == "1874-12-09"
    future = date.fromisoformat(films["Three Years Out"]["release_date"])
    assert (future - cat.date_of(0)).days > 3 * 365
    assert films["Three Years Out"]["status"] == "Planned"
    announced = films["Announced Picture"]
    assert (announced["status"], announced["release_date"]) == ("Announced", "")
    us = [
        release["certification"]
        for country in films["Rated for Television"]["release_dates"]["results"]
        if country["iso_3166_1"] == "US"
        for release in country["release_dates"]
    ]
    assert us and set(us) == {"TV-MA"}
    silent = films["Nothing Said"]
    assert silent["original_language"] == "xx"
    assert silent["spoken_languages"] == [
        {"english_name": "No Language", "iso_639_1": "xx", "name": "No Language"}
    ]


def test_outliers_have_tmdbs_shapes() -> None:
    cat = Catalogue(9, 150, today=TODAY, outliers=True)
    sample = json.loads((FIXTURES / "movie_details_sparse_records.json").read_text("utf-8"))
    sample_keys = set().union(*(r.keys() for r in sample))
    ordinary = cat.details(cat.movie_ids()[0])
    for movie_id in cat.outlier_ids.values():
        record = cat.details(movie_id)
        assert sample_keys <= set(record)
        assert set(record) == set(ordinary)
        assert isinstance(record["vote_average"], float)


def test_later_days_keep_the_outliers() -> None:
    day0 = Catalogue(9, 150, today=TODAY, outliers=True)
    day2 = Catalogue(9, 150, day=2, today=date(2026, 1, 17), outliers=True)
    assert day2.outlier_ids == day0.outlier_ids
    assert day2.details(day2.outlier_ids["The Cure for Insomnia"])["runtime"] == 5_220
    assert max(day2.movie_ids()) > max(day0.movie_ids())  # new titles get ids above them
