"""One feature path: a catalogued movie scores the same by id and as a pre-release description;
scoring fills the predictions mart; model files load only with safe types."""

from __future__ import annotations

import pytest
import skops.io as sio

from ml import artifacts
from ml.feature_sql import description_rules
from ml.features import MovieDescription
from ml.pipeline import score_movies
from ml.predict import Predictor, UnknownMovie
from tests.conftest import query, settings

FACTS = """
with top_cast as (
    select cast_credits.movie_id, array_agg(people.name order by cast_credits.cast_order,
        cast_credits.person_id) as names
    from marts.fct_movie_cast as cast_credits
    join marts.dim_people as people using (person_id)
    where (cast_credits.movie_id, cast_credits.person_id) in (
        select movie_id, person_id from (
            select movie_id, person_id, row_number() over (
                partition by movie_id order by cast_order, person_id) as billing
            from marts.fct_movie_cast) as ranked
        where billing <= 3)
    group by cast_credits.movie_id
),
unique_names as (
    select name from marts.dim_people group by name having count(*) = 1
)
select movies.movie_id, movies.release_date, movies.budget_usd, movies.runtime_minutes,
    movies.original_language, movies.us_certification, movies.collection_id is not null,
    movies.director_name, coalesce(top_cast.names, array[]::text[]), features.genre_names,
    features.production_company_names, features.keyword_count
from marts.dim_movies as movies
join marts.ml_movie_features as features using (movie_id)
left join top_cast using (movie_id)
where movies.release_date is not null
    and (movies.director_name is null or movies.director_name in (select name from unique_names))
    and not exists (select 1 from unnest(top_cast.names) as n
                    where n not in (select name from unique_names))
order by movies.movie_id
limit 40
"""


def test_a_known_movie_scores_the_same_by_id_and_as_a_description(warehouse) -> None:
    import psycopg2

    predictor = Predictor(warehouse.model)
    conn = psycopg2.connect(warehouse.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(FACTS)
            facts = cur.fetchall()
        assert len(facts) >= 20
        ids = [row[0] for row in facts]
        by_id = predictor.predict_movies(conn, ids)
        descriptions = [
            MovieDescription(
                release_date=release_date,
                budget_usd=budget,
                runtime_minutes=runtime,
                original_language=language,
                us_certification=certification,
                in_collection=in_collection,
                director=director,
                top_cast=list(cast),
                genres=list(genres),
                production_companies=list(companies),
                keywords=[f"keyword {i}" for i in range(keyword_count)],
            )
            for (_, release_date, budget, runtime, language, certification, in_collection,
                 director, cast, genres, companies, keyword_count) in facts
        ]  # fmt: skip
        by_description = predictor.predict_descriptions(
            conn, descriptions, description_rules(settings())
        )
    finally:
        conn.close()
    for known, described in zip(by_id, by_description, strict=True):
        assert known.success_probability == pytest.approx(described.success_probability, abs=1e-9)
    probabilities = {round(p.success_probability, 6) for p in by_id}
    assert len(probabilities) > 10  # the movies really differ; the test is not vacuous
    assert all(p.top_factors and "feature" in p.top_factors[0] for p in by_id)


def test_unknown_movie(warehouse) -> None:
    import psycopg2

    conn = psycopg2.connect(warehouse.database_url)
    try:
        with pytest.raises(UnknownMovie):
            Predictor(warehouse.model).predict_movies(conn, [987654321])
    finally:
        conn.close()


def test_a_newcomer_with_no_track_record_still_gets_a_probability(warehouse) -> None:
    from datetime import date

    import psycopg2

    conn = psycopg2.connect(warehouse.database_url)
    try:
        [prediction] = Predictor(warehouse.model).predict_descriptions(
            conn,
            [MovieDescription(release_date=date(2030, 6, 1), budget_usd=50_000_000,
                              genres=["Action"], director="Nobody Known Yet")],
            description_rules(settings()),
        )  # fmt: skip
    finally:
        conn.close()
    assert 0.0 < prediction.success_probability < 1.0
    assert prediction.model_version == "test-v1"


def test_score_fills_the_predictions_mart(warehouse, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    version, scored = score_movies(settings())
    movies = query(warehouse.database_url, "select count(*) from marts.dim_movies")[0][0]
    assert scored == movies
    rows = query(
        warehouse.database_url,
        "select count(*), count(distinct movie_id), min(success_probability),"
        " max(success_probability), bool_and(predicted_success = (success_probability >= 0.5))"
        " from marts.movie_success_predictions where model_version = %s",
        (version,),
    )
    count, distinct, low, high, consistent = rows[0]
    assert count == distinct == movies and 0 <= low < high <= 1 and consistent


class NotAModel:
    """Stands for anything a model file should never contain."""


def test_model_files_with_foreign_types_are_refused(tmp_path) -> None:
    folder = tmp_path / "models" / "evil"
    folder.mkdir(parents=True)
    sio.dump({"payload": NotAModel()}, folder / artifacts.MODEL_FILE)
    (folder / artifacts.METADATA_FILE).write_text('{"version": "evil"}')
    with pytest.raises(artifacts.ModelUnavailable, match="allowlist"):
        artifacts.load(folder)


def test_no_model_yet_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(artifacts.ModelUnavailable, match="tmdb train"):
        artifacts.load_current(tmp_path)
