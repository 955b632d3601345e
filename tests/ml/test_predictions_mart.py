"""The predictions mart is built incrementally from the stored scores (`tmdb score` deletes and
writes scores, never updates them): after scores are dropped, written again and a newer model
scores, an incremental build holds exactly what a full build gives."""

from __future__ import annotations

import psycopg2

from ml.pipeline import score_movies
from tests.conftest import query, settings
from warehouse.dbt_runner import run_dbt

NEWER = "test-newer-model"
MART = "marts.movie_success_predictions"


def _mart(url: str) -> tuple[int, str]:
    [(rows, digest)] = query(
        url,
        "select count(*), md5(string_agg(p::text, ',' order by movie_id, model_version))"
        f" from {MART} p",
    )
    return rows, digest


def test_an_incremental_build_of_the_predictions_equals_a_full_one(
    warehouse, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    url = warehouse.database_url
    version, _ = score_movies(settings())
    gone, again, newer = [
        row[0]
        for row in query(
            url,
            "select movie_id from ml.movie_success_scores where model_version = %s"
            " order by movie_id limit 3",
            (version,),
        )
    ]
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            # a movie's score deleted (its features row left), one written again (changed
            # features), and a newer model scoring one movie
            cur.execute(
                "delete from ml.movie_success_scores where movie_id = %s and model_version = %s",
                (gone, version),
            )
            cur.execute(
                "update ml.movie_success_scores set success_probability = 0.5,"
                " scored_at = scored_at + interval '1 second', features_digest = 'rewritten'"
                " where movie_id = %s and model_version = %s",
                (again, version),
            )
            cur.execute(
                "insert into ml.movie_success_scores (movie_id, model_version,"
                " success_probability, predicted_success, scored_at, features_digest)"
                " select movie_id, %s, 0.25, false, scored_at + interval '1 day', features_digest"
                " from ml.movie_success_scores where movie_id = %s and model_version = %s",
                (NEWER, newer, version),
            )
        conn.commit()
        run_dbt(settings(), ["build", "--select", "movie_success_predictions"])
        incremental = _mart(url)
        rows = query(
            url,
            f"select movie_id, model_version, success_probability, is_latest_model from {MART}"
            " where movie_id = any(%s) order by movie_id, model_version",
            ([gone, again, newer],),
        )
        [(latest,)] = query(
            url, f"select array_agg(distinct model_version) from {MART} where is_latest_model"
        )
        run_dbt(settings(), ["build", "--select", "movie_success_predictions", "--full-refresh"])
        full = _mart(url)
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "delete from ml.movie_success_scores where model_version = %s"
                " or (movie_id = %s and model_version = %s)",
                (NEWER, again, version),
            )
        conn.commit()
        conn.close()
        score_movies(settings())
    held = {(movie, model): (probability, flag) for movie, model, probability, flag in rows}
    assert set(held) == {(again, version), (newer, version), (newer, NEWER)}  # `gone` went
    assert held[again, version] == (0.5, False)
    assert held[newer, NEWER] == (0.25, True)
    assert held[newer, version][1] is False
    assert latest == [NEWER]
    assert incremental == full
    # and the clean-up's incremental build put the first model back as the latest
    [(flags,)] = query(url, f"select array_agg(distinct is_latest_model) from {MART}")
    assert flags == [True]
