"""Real data holds every oddity a range assumes away: a catalogue with such outliers builds,
its plausibility tests warn with the rows they found, and the tests that must hold stay errors.

The catalogue of the local TMDB server adds a film of 5,220 minutes and one of 857 hours, junk
and absurd money, a perfect rating from one vote, a film of 1874 and one three years out, and a
status, a certification and a language code outside the usual lists (`OUTLIERS`). `tmdb
transform` must finish, list each warning with its row count, and leave the films in the marts.
How many rows each range test finds is recomputed here from the catalogue's TMDB records, never
read from the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from cli.main import app
from ingestion.fake_tmdb import Catalogue
from tests.builders import anchor_today, loaded_warehouse_env
from tests.conftest import query
from warehouse import dbt_runner
from warehouse.dbt_runner import WarnedTest, warning_lines
from warehouse.settings import Settings

SEED = 41
MOVIES = 200

#: Tests that must hold whatever TMDB sends: keys, grain, relationships, not-null.
MUST_HOLD = {"unique", "not_null", "relationships", "unique_combination_of_columns"}
#: Ranges and lists: plausibility, so warnings, unless they check a value our own SQL derives.
PLAUSIBILITY = {"value_between", "accepted_values"}
#: (model, column) of the ranges and lists over values our own SQL computes: no data can break
#: them, only a bug, so they stay errors like the singular tests of our rules.
DERIVED = {
    ("int_movies__current", "is_adult"),  # adult titles are filtered out
    ("int_movie_people__track_records", "credit_role"),  # a label we write
    ("int_movie_people__track_records", "prior_film_count"),  # a count
    ("int_movie_people__track_records", "prior_success_rate"),  # a share
    ("int_people__filmography", "credit_role"),
    ("ml_person_filmography", "credit_role"),
    ("ml_movie_features", "release_month"),  # extracted from a valid date
    ("ml_movie_features", "release_day_of_week"),
    ("ml_movie_features", "release_season"),  # a label we write
    ("mart_genre_year_performance", "movie_count"),  # count(*) of a group
    ("mart_genre_year_performance", "success_rate"),  # a share
    ("movie_success_predictions", "success_probability"),  # the classifier's probability
}


@dataclass(frozen=True)
class OutlierBuild:
    """A warehouse loaded from the outlier catalogue and built by `tmdb transform`."""

    database_url: str
    catalogue: Catalogue
    exit_code: int
    output: str
    #: test name -> (status, rows found), from the `dbt build` that `tmdb transform` ran
    results: dict[str, tuple[str, int]]
    #: test name -> its manifest node
    tests: dict[str, dict]


@pytest.fixture(scope="module")
def outlier_build(
    pg_socket_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OutlierBuild]:
    """Bulk-load the outlier catalogue and run `tmdb transform` once, recording dbt's results."""
    folder = tmp_path_factory.mktemp("outlier-warehouse")
    catalogue = Catalogue(
        seed=SEED, movies=MOVIES, today=anchor_today() - timedelta(days=1), outliers=True
    )
    runs: list[tuple[list[str], object]] = []
    run_dbt = dbt_runner.run_dbt

    def recording_run_dbt(settings: Settings, args: list[str]):
        result = run_dbt(settings, args)
        runs.append((list(args), result))
        return result

    with loaded_warehouse_env(pg_socket_url, folder, catalogue) as (url, mp):
        mp.setattr(dbt_runner, "run_dbt", recording_run_dbt)
        cli = CliRunner().invoke(app, ["transform"])
        builds = [result for args, result in runs if args[0] == "build"]
        results = {
            node.node.name: (str(node.status), int(node.failures or 0))
            for build in builds
            for node in build.result.results
            if node.node.resource_type == "test"
        }
        manifest = json.loads((folder / "target" / "manifest.json").read_text("utf-8"))
        tests = {
            node["name"]: node
            for node in manifest["nodes"].values()
            if node["resource_type"] == "test" and node["package_name"] == "tmdb_analytics"
        }
        yield OutlierBuild(url, catalogue, cli.exit_code, cli.output, results, tests)


def _kind(test: dict) -> str:
    return (test.get("test_metadata") or {}).get("name", "singular")


def _model(test: dict) -> str:
    return (test.get("attached_node") or test.get("file_key_name") or "").split(".")[-1]


def _severity(test: dict) -> str:
    return str(test["config"]["severity"]).lower()


def _staged(record: dict, column: str) -> float | None:
    """A `dim_movies` / `stg_tmdb__movies` column as staging derives it from a TMDB record
    (0 and '' mean unknown; no votes, no average)."""
    if column == "release_year":
        return int(record["release_date"][:4]) if record["release_date"] else None
    if column == "vote_average":
        return record["vote_average"] if record["vote_count"] > 0 else None
    value = record[{"runtime_minutes": "runtime", "budget_usd": "budget"}.get(column, "revenue")]
    return value if value > 0 else None


def _expected_rows(build: OutlierBuild, test: dict) -> int:
    """The rows a plausibility test on the movies must find, from the catalogue's records."""
    include_adult = _model(test) == "stg_tmdb__movies"  # staging still holds adult titles
    records = [
        build.catalogue.details(movie_id, append=())
        for movie_id in build.catalogue.movie_ids(include_adult=include_adult)
    ]
    kwargs = test["test_metadata"]["kwargs"]
    if _kind(test) == "accepted_values":
        return sum(r["status"] not in kwargs["values"] for r in records)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    values = [v for v in (_staged(r, test["column_name"]) for r in records) if v is not None]
    return sum((low is not None and v < low) or (high is not None and v > high) for v in values)


def test_transform_finishes_and_reports_each_warning_with_its_rows(
    outlier_build: OutlierBuild,
) -> None:
    build = outlier_build
    assert build.exit_code == 0, build.output[-3000:]
    warned = sorted(
        (name, rows) for name, (status, rows) in build.results.items() if status == "warn"
    )
    assert warned, "the outliers tripped no plausibility test"
    for line in warning_lines([WarnedTest(name, rows) for name, rows in warned]):
        assert line in build.output
    # every warning is a plausibility test declared as such; nothing else failed or was skipped
    assert {_severity(build.tests[name]) for name, _ in warned} == {"warn"}
    assert {status for status, _ in build.results.values()} == {"pass", "warn"}


def test_plausibility_tests_warn_with_the_rows_the_catalogue_holds(
    outlier_build: OutlierBuild,
) -> None:
    build = outlier_build
    checked = {}
    for name, test in build.tests.items():
        movies = _model(test) in ("dim_movies", "stg_tmdb__movies")
        ranged = _kind(test) == "value_between" or test.get("column_name") == "status"
        if movies and ranged and _kind(test) in PLAUSIBILITY:
            expected = _expected_rows(build, test)
            assert build.results[name] == ("warn" if expected else "pass", expected), name
            checked[(_model(test), test["column_name"])] = expected
    # the outliers are what trips them: two films of days, three absurd budgets, and so on
    assert checked[("dim_movies", "runtime_minutes")] >= 2
    assert checked[("dim_movies", "budget_usd")] >= 3
    assert checked[("dim_movies", "revenue_usd")] >= 1
    assert checked[("dim_movies", "status")] >= 1
    assert checked[("stg_tmdb__movies", "status")] >= 1


def test_key_and_grain_tests_ran_and_passed(outlier_build: OutlierBuild) -> None:
    build = outlier_build
    must_hold = [name for name, test in build.tests.items() if _kind(test) in MUST_HOLD]
    assert len(must_hold) > 80
    assert {name: build.results[name] for name in must_hold} == {
        name: ("pass", 0) for name in must_hold
    }


def test_outlier_films_are_in_the_marts_as_tmdb_lists_them(outlier_build: OutlierBuild) -> None:
    """No column nulls an implausible value: each is kept as TMDB sent it (see the column
    descriptions); only the financial reliability rule keeps junk money out of ROI and labels."""
    build = outlier_build
    ids = build.catalogue.outlier_ids
    columns = (
        "runtime_minutes", "budget_usd", "revenue_usd", "vote_average", "vote_count",
        "release_date", "release_year", "status", "us_certification", "original_language",
        "is_financially_reliable", "roi", "is_commercial_success",
    )  # fmt: skip
    rows = query(
        build.database_url,
        f"select movie_id, {', '.join(columns)} from marts.dim_movies where movie_id = any(%s)",
        (list(ids.values()),),
    )
    by_id = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}
    assert set(by_id) == set(ids.values())
    film = {title: by_id[movie_id] for title, movie_id in ids.items()}
    assert film["The Cure for Insomnia"]["runtime_minutes"] == 5_220
    assert film["Logistics"]["runtime_minutes"] == 51_420
    for title, budget in (("One Dollar Picture", 1), ("Five Dollar Picture", 5)):
        assert film[title]["budget_usd"] == budget
        assert film[title]["is_financially_reliable"] is False
        assert (film[title]["roi"], film[title]["is_commercial_success"]) == (None, None)
    assert film["Four Billion Picture"]["budget_usd"] == 4_000_000_000
    assert film["Fifty Billion Picture"]["revenue_usd"] == 50_000_000_000
    assert (film["Perfect Ten"]["vote_average"], film["Perfect Ten"]["vote_count"]) == (10.0, 1)
    assert film["Passage de Vénus"]["release_date"] == date(1874, 12, 9)
    assert film["Passage de Vénus"]["release_year"] == 1874
    three_years_on = build.catalogue.date_of(0) + timedelta(days=3 * 365)
    assert film["Three Years Out"]["release_date"] > three_years_on
    assert film["Announced Picture"]["status"] == "Announced"
    assert film["Announced Picture"]["release_date"] is None
    assert film["Rated for Television"]["us_certification"] is None  # TV-MA is no MPA rating
    assert film["Nothing Said"]["original_language"] == "xx"
    features = query(
        build.database_url,
        "select count(*) from marts.ml_movie_features where movie_id = any(%s)",
        (list(ids.values()),),
    )
    assert features == [(len(ids),)]


def test_key_tests_stay_errors_and_plausibility_warns(outlier_build: OutlierBuild) -> None:
    """A key test turned into a warning, or a range on TMDB's values turned into an error,
    fails here; so does a new range or list nobody has classified (it defaults to error)."""
    wrong = []
    for name, test in outlier_build.tests.items():
        derived = (_model(test), test.get("column_name")) in DERIVED
        expected = "warn" if _kind(test) in PLAUSIBILITY and not derived else "error"
        if _severity(test) != expected:
            wrong.append(f"{name}: {_severity(test)}, expected {expected}")
    assert wrong == []
    classified = {(_model(t), t.get("column_name")) for t in outlier_build.tests.values()}
    assert classified >= DERIVED, DERIVED - classified
    kinds = [_kind(t) for t in outlier_build.tests.values() if _severity(t) == "warn"]
    assert len(kinds) >= 10 and set(kinds) == PLAUSIBILITY


def test_warning_block_names_each_test_and_its_rows() -> None:
    assert warning_lines([]) == []
    lines = warning_lines([WarnedTest("value_between_x", 1), WarnedTest("accepted_y", 12_345)])
    assert lines == [
        "2 plausibility tests warned (rows kept, the build went on):",
        "  value_between_x: 1 row",
        "  accepted_y: 12,345 rows",
    ]
