"""The marts say what the source says: figures recomputed in Python from the synthetic
catalogue (never from the warehouse) equal the marts' after a bulk load and after a daily run.
The daily run's build is incremental (the movies loaded since are rewritten, the others kept):
every incrementally built table then equals what a full refresh builds from scratch.

The catalogue is the source of truth TMDB would be: adult titles never reach the marts, movies
removed from TMDB leave them, and TMDB's 0 / '' for "unknown" must not count as values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

import psycopg2

from ingestion.fake_tmdb import Catalogue
from ingestion.pipelines import run_bulk, run_daily
from tests.builders import day0_catalogue
from tests.conftest import query, settings
from warehouse.dbt_runner import build_warnings, run_dbt, transform

SEED = 31
MOVIES = 1200

RELIABLE_BUDGET_USD = 100_000
RELIABLE_REVENUE_USD = 1_000
SUCCESS_REVENUE_MULTIPLE = 2


def expected_figures(catalogue: Catalogue) -> dict[str, int]:
    """The marts' headline figures, from the catalogue's TMDB records of non-adult movies."""
    records = [catalogue.details(i) for i in catalogue.movie_ids(include_adult=False)]
    budgets = [r["budget"] for r in records if r["budget"] > 0]
    revenues = [r["revenue"] for r in records if r["revenue"] > 0]
    labelled = [
        r
        for r in records
        if r["budget"] >= RELIABLE_BUDGET_USD and r["revenue"] >= RELIABLE_REVENUE_USD
    ]
    movie_genres = {(r["id"], g["id"]) for r in records for g in r["genres"]}
    us_certified = [
        r
        for r in records
        for country in r["release_dates"]["results"]
        if country["iso_3166_1"] == "US"
        and any(release["certification"].strip() for release in country["release_dates"])
    ]
    cast = {(r["id"], p["id"]) for r in records for p in r["credits"]["cast"]}
    crew = {(r["id"], p["id"], p["job"]) for r in records for p in r["credits"]["crew"]}
    return {
        "movies": len(records),
        "known_budgets": len(budgets),
        "budget_sum": sum(budgets),
        "known_revenues": len(revenues),
        "revenue_sum": sum(revenues),
        "known_runtimes": sum(r["runtime"] > 0 for r in records),
        "known_release_dates": sum(bool(r["release_date"]) for r in records),
        "known_imdb_ids": sum(bool(r["imdb_id"]) for r in records),
        "known_overviews": sum(bool(r["overview"].strip()) for r in records),
        "known_us_certifications": len(us_certified),
        "with_director": sum(
            any(p["job"] == "Director" for p in r["credits"]["crew"]) for r in records
        ),
        "with_primary_genre": sum(bool(r["genres"]) for r in records),
        "labelled": len(labelled),
        "successes": sum(r["revenue"] >= SUCCESS_REVENUE_MULTIPLE * r["budget"] for r in labelled),
        "movie_genres": len(movie_genres),
        "people": len({person for _, person in cast} | {person for _, person, _ in crew}),
        "cast_rows": len(cast),
        "crew_rows": len(crew),
    }


KNOWN = (
    "known_budgets",
    "budget_sum",
    "known_revenues",
    "revenue_sum",
    "known_runtimes",
    "known_release_dates",
    "known_imdb_ids",
    "known_overviews",
    "known_us_certifications",
    "with_director",
    "with_primary_genre",
)


def warehouse_figures(url: str) -> dict[str, int]:
    # count(column) counts non-NULL values: TMDB's 0 and '' must have become NULL.
    ((movies, *known, labelled, successes),) = query(
        url,
        """
        select
            count(*),
            count(budget_usd),
            coalesce(sum(budget_usd), 0),
            count(revenue_usd),
            coalesce(sum(revenue_usd), 0),
            count(runtime_minutes),
            count(release_date),
            count(imdb_id),
            count(overview),
            count(us_certification),
            count(director_name),
            count(primary_genre),
            count(is_commercial_success),
            count(*) filter (where is_commercial_success)
        from marts.dim_movies
        """,
    )

    def count(table: str) -> int:
        return query(url, f"select count(*) from marts.{table}")[0][0]

    return {
        "movies": movies,
        **dict(zip(KNOWN, (int(value) for value in known), strict=True)),
        "labelled": labelled,
        "successes": successes,
        "movie_genres": count("bridge_movie_genres"),
        "people": count("dim_people"),
        "cast_rows": count("fct_movie_cast"),
        "crew_rows": count("fct_movie_crew"),
    }


def mart_movie_ids(url: str, ids: Iterable[int]) -> set[int]:
    rows = query(
        url, "select movie_id from marts.dim_movies where movie_id = any(%s)", (list(ids),)
    )
    return {row[0] for row in rows}


#: The incremental models (and what they feed), each with its key: `table_digests` reads them.
INCREMENTAL = {
    "intermediate.int_movies__current": "movie_id",
    "intermediate.int_movies__financials": "movie_id",
    "intermediate.int_movies__us_certification": "movie_id",
    "intermediate.int_movies__primary_director": "movie_id",
    "marts.dim_movies": "movie_id",
    "marts.bridge_movie_genres": "movie_id, genre_id",
    "staging.stg_tmdb__movie_cast": "movie_id, person_id, credit_id",
    "staging.stg_tmdb__movie_crew": "movie_id, person_id, credit_id",
    "intermediate.int_people__filmography": "person_id, credit_role, movie_id",
    "intermediate.int_movie_people__track_records": "movie_id, person_id, credit_role",
    "marts.fct_movie_cast": "movie_id, person_id",
    "marts.fct_movie_crew": "movie_id, person_id, job",
    "marts.ml_person_filmography": "person_id, credit_role, movie_id",
    "marts.ml_movie_features": "movie_id",
    "marts.dim_people": "person_id",
    "marts.fct_movie_genres": "movie_id, genre_id",
    "marts.fct_movie_metrics_daily": "movie_id, snapshot_date",
}
#: What says when or how a row was built, not what it holds.
BOOKKEEPING = {"built_at", "is_current"}


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the rows in key order) per table, bookkeeping columns left out and
    filmography tombstones (rows a movie no longer has, kept for a week) skipped."""
    digests = {}
    for table, key in INCREMENTAL.items():
        schema, name = table.split(".")
        columns = [
            row[0]
            for row in query(
                url,
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s order by ordinal_position",
                (schema, name),
            )
            if row[0] not in BOOKKEEPING
        ]
        current = " where is_current" if name == "int_people__filmography" else ""
        [(count, digest)] = query(
            url,
            f"select count(*), md5(string_agg(md5(row({', '.join(columns)})::text), ''"
            f" order by {key})) from {table}{current}",
        )
        digests[table] = (count, digest)
    return digests


def test_marts_match_the_catalogue_after_bulk_and_daily(
    tmdb_server, dbt_artifacts, database_url: str
) -> None:
    day0 = day0_catalogue(SEED, MOVIES)
    server = tmdb_server(day0)
    run_bulk(settings(), export_date=day0.date_of(0))
    server.stop()
    transform(settings())
    assert warehouse_figures(database_url) == expected_figures(day0), "after the bulk load"

    day1 = Catalogue(seed=SEED, movies=MOVIES, day=1, today=day0.date_of(0) + timedelta(days=1))
    # People named after a credit on a movie the day removes: their row must change or go.
    named_by_removed = dict(
        query(
            database_url,
            "select person_id, latest_credit_movie_id from marts.dim_people"
            " where latest_credit_movie_id = any(%s)",
            (sorted(day1.removed_ids(1)),),
        )
    )
    assert named_by_removed
    tmdb_server(day1)
    run_daily(settings(), today=day1.date_of(1))
    transform(settings())
    assert warehouse_figures(database_url) == expected_figures(day1), "after the daily run"

    # The daily build rewrote the movies of the day (changed, added, removed), not the others.
    touched = day1.changed_ids(1) | day1.added_ids(1) | day1.removed_ids(1)
    [(rewritten, total)] = query(
        database_url,
        "select count(distinct movie_id) filter (where built_at = (select max(built_at)"
        " from marts.fct_movie_cast)), count(distinct movie_id) from marts.fct_movie_cast",
    )
    assert 0 < rewritten <= len(touched) < 0.1 * total
    for table in (
        "intermediate.int_movies__current",
        "intermediate.int_movies__financials",
        "marts.dim_movies",
        "marts.bridge_movie_genres",
        "marts.fct_movie_genres",
        "marts.fct_movie_metrics_daily",
    ):
        [(rewritten, total)] = query(
            database_url,
            "select count(distinct movie_id) filter (where built_at = (select max(built_at)"
            f" from {table})), count(distinct movie_id) from {table}",
        )
        assert 0 < rewritten <= len(touched) < 0.1 * total, table
    # Track records of untouched movies were computed again where a person's filmography
    # changed before them.
    [(records_again,)] = query(
        database_url,
        "select count(*) from intermediate.int_movie_people__track_records where built_at ="
        " (select max(built_at) from intermediate.int_movie_people__track_records)"
        " and movie_id <> all(%s)",
        (sorted(touched),),
    )
    assert records_again > 0
    # dim_people rewrote the people of the day's credits and of the removed movies, not all.
    [(people_again, people)] = query(
        database_url,
        "select count(*) filter (where built_at = (select max(built_at) from marts.dim_people)),"
        " count(*) from marts.dim_people",
    )
    assert 0 < people_again < 0.5 * people
    after = {
        person: (movie, rewritten)
        for person, movie, rewritten in query(
            database_url,
            "select person_id, latest_credit_movie_id, built_at = (select max(built_at)"
            " from marts.dim_people) from marts.dim_people where person_id = any(%s)",
            (sorted(named_by_removed),),
        )
    }
    # Each of them is now named after another credit (read again from all of theirs), or gone
    # (no credit left on a current movie); the catalogue has both, and some of them are named
    # after a credit on a movie the day did not touch.
    assert all(
        rewritten and movie != named_by_removed[person]
        for person, (movie, rewritten) in after.items()
    )
    assert after and len(after) < len(named_by_removed)
    assert {movie for movie, _ in after.values()} - touched
    incremental = table_digests(database_url)
    transform(settings(), full_refresh=True)
    assert table_digests(database_url) == incremental, "incremental and full builds differ"

    removed, added = day1.removed_ids(1), day1.added_ids(1)
    assert any(not day0.details(i)["adult"] for i in removed)
    assert mart_movie_ids(database_url, removed) == set()
    # The daily metrics keep no history of a movie that left.
    [(left,)] = query(
        database_url,
        "select count(*) from marts.fct_movie_metrics_daily where movie_id = any(%s)",
        (sorted(removed),),
    )
    assert left == 0
    non_adult_added = {i for i in added if not day1.details(i)["adult"]}
    assert non_adult_added
    assert mart_movie_ids(database_url, added) == non_adult_added

    # Changed movies whose votes moved: the mart shows the day-1 figure, not day 0's.
    moved = [
        i
        for i in sorted(day1.changed_ids(1))
        if not day1.details(i)["adult"]
        and day1.details(i)["vote_count"] != day0.details(i)["vote_count"]
    ][:10]
    assert moved
    rows = query(
        database_url,
        "select movie_id, vote_count from marts.dim_movies where movie_id = any(%s)",
        (moved,),
    )
    assert dict(rows) == {i: day1.details(i)["vote_count"] for i in moved}
    # ... and in the daily metrics: the day's fetch replaced the row of the same day (both
    # loads ran today) or added the next day's.
    rows = query(
        database_url,
        "select movie_id, vote_count from marts.fct_movie_metrics_daily where movie_id = any(%s)"
        " and snapshot_date = (select max(snapshot_date) from marts.fct_movie_metrics_daily)",
        (moved,),
    )
    assert dict(rows) == {i: day1.details(i)["vote_count"] for i in moved}

    # TMDB renames a genre in its list: an incremental build renames it on every genre row,
    # not only on the rows of movies loaded since.
    [(genre_id, old_name)] = query(
        database_url,
        "select genre_id, genre_name from marts.bridge_movie_genres"
        " group by genre_id, genre_name order by count(*) desc limit 1",
    )
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:  # commits on exit
        cur.execute(
            "update raw_tmdb.genres set name = %s where id = %s",
            (f"{old_name} (renamed)", genre_id),
        )
        assert cur.rowcount == 1
    conn.close()
    transform(settings())
    for table in ("marts.bridge_movie_genres", "marts.fct_movie_genres"):
        names = query(
            database_url,
            f"select distinct genre_name from {table} where genre_id = %s",
            (genre_id,),
        )
        assert names == [(f"{old_name} (renamed)",)], table

    # A staging view's tests read the loads its incremental child has not taken in yet: a
    # release type TMDB adds, in a new load, warns on the build that takes the load in (the
    # movie's US rating moves the certification model's watermark), and on that build only; a
    # bare `dbt test` still reads every row.
    [(odd_movie,)] = query(database_url, "select min(movie_id) from marts.dim_movies")
    releases = {
        "results": [
            {"iso_3166_1": "XX", "release_dates": [{"type": 9, "certification": ""}]},
            {"iso_3166_1": "US", "release_dates": [{"type": 3, "certification": "PG"}]},
        ]
    }
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "update raw_tmdb.movies set _dlt_load_id = (select max(_dlt_load_id) || '9'"
            " from raw_tmdb.movies), release_dates = %s::jsonb where id = %s",
            (json.dumps(releases), odd_movie),
        )
    conn.close()
    release_type = "accepted_values_stg_tmdb__movie_release_dates_release_type"
    warned = {w.name: w.failures for w in transform(settings()) if w.name.startswith(release_type)}
    assert list(warned.values()) == [1]
    assert not [w for w in transform(settings()) if w.name.startswith(release_type)]
    tested = build_warnings(
        run_dbt(settings(), ["test", "--select", "stg_tmdb__movie_release_dates"])
    )
    assert [w.failures for w in tested if w.name.startswith(release_type)] == [1]
