"""The fast prediction paths give the answers the pipeline gives: the vectorised explainer
against `predict_proba` on frames, and a catalogued movie's stored score against computing it
afresh, over 200 movies."""

from __future__ import annotations

import copy
from datetime import date

import numpy as np
import pandas as pd
import psycopg2
import pytest

from ml.feature_sql import description_rules
from ml.features import RAW_COLUMNS, MovieDescription, input_columns, load_feature_rows
from ml.pipeline import score_movies
from ml.predict import STALE_AFTER, Predictor
from tests.conftest import query, settings

MOVIES = 200


def _rows(warehouse) -> pd.DataFrame:
    conn = psycopg2.connect(warehouse.database_url)
    try:
        return load_feature_rows(conn).iloc[:MOVIES].reset_index(drop=True)
    finally:
        conn.close()


def _through_the_pipeline(predictor: Predictor) -> Predictor:
    """The same model explained the way it was before the explainer: frames and
    `predict_proba`."""
    slow = copy.copy(predictor)
    slow.explainer = None
    return slow


def _same(fast, slow) -> None:
    assert len(fast) == len(slow) == MOVIES
    for a, b in zip(fast, slow, strict=True):
        assert a.movie_id == b.movie_id
        assert a.success_probability == pytest.approx(b.success_probability, abs=1e-6)
        assert a.predicted_success == b.predicted_success
        assert a.top_factors == b.top_factors


def test_the_explainer_answers_as_the_pipeline_does(warehouse) -> None:
    predictor = Predictor(warehouse.model)
    assert predictor.explainer is not None  # the model of `tmdb train` takes the fast path
    rows = _rows(warehouse)
    fast = predictor.explain(rows)
    _same(fast, _through_the_pipeline(predictor).explain(rows))
    assert len({p.success_probability for p in fast}) > 50  # the movies really differ
    assert all(len(p.top_factors) == 5 for p in fast)


def test_the_explainer_encodes_as_the_fitted_encoder_does(warehouse) -> None:
    predictor = Predictor(warehouse.model)
    rows = _rows(warehouse)
    # values training never saw, and none at all, where the encoder has a code for each
    rows.loc[0, "us_certification"] = "NOT-A-RATING"
    rows.loc[1, "original_language"] = None
    rows.loc[2, "primary_genre"] = None
    columns = input_columns(rows[RAW_COLUMNS], predictor.vocabulary)
    encoder = predictor.model.calibrated_classifiers_[0].estimator.named_steps["encode"]
    expected = encoder.transform(pd.DataFrame({c: columns[c] for c in predictor.features}))
    np.testing.assert_array_equal(predictor.explainer.encode(columns), expected)


def test_descriptions_take_the_fast_path_with_the_same_answers(warehouse) -> None:
    predictor = Predictor(warehouse.model)
    descriptions = [
        MovieDescription(
            release_date=date(2031, 1 + i % 12, 1),
            budget_usd=(i + 1) * 1_500_000,
            genres=[["Action"], ["Drama", "Romance"], [], ["Horror"]][i % 4],
            director=None if i % 3 else "Nobody Known Yet",
            us_certification=["PG-13", "R", None, "UNRATED-X"][i % 4],
            in_collection=bool(i % 2),
        )
        for i in range(MOVIES)
    ]
    rules = description_rules(settings())
    conn = psycopg2.connect(warehouse.database_url)
    try:
        fast = predictor.predict_descriptions(conn, descriptions, rules)
        from ml.features import raw_rows_for_descriptions

        slow = _through_the_pipeline(predictor).explain(
            raw_rows_for_descriptions(conn, descriptions, rules)
        )
    finally:
        conn.close()
    for a, b in zip(fast, slow, strict=True):
        assert a.success_probability == pytest.approx(b.success_probability, abs=1e-6)
        assert a.top_factors == b.top_factors
    assert len({p.success_probability for p in fast}) > 20


def test_a_scored_movie_is_a_lookup_with_the_same_answer(warehouse, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    version, _ = score_movies(settings())
    predictor = Predictor(warehouse.model)
    assert predictor.version == version
    rows = _rows(warehouse)
    ids = [int(movie_id) for movie_id in rows["movie_id"]]
    conn = psycopg2.connect(warehouse.database_url)
    try:
        stored = predictor.stored(conn, ids)
        looked_up = predictor.predict_movies(conn, ids)
        # a version nothing was scored with: the same movies computed afresh
        unscored = copy.copy(predictor)
        unscored.version = "never-scored"
        assert unscored.stored(conn, ids) == {}
        computed = unscored.predict_movies(conn, ids)
        # the same model as if it had learned nothing since 1990: both by-id paths warn
        stale, stale_unscored = copy.copy(predictor), copy.copy(unscored)
        stale.learned_until = stale_unscored.learned_until = date(1990, 1, 1)
        stale_looked_up = stale.predict_movies(conn, ids)
        stale_computed = stale_unscored.predict_movies(conn, ids)
    finally:
        conn.close()
    assert all(p.warnings == [] for p in looked_up + computed)
    released = {int(m): d for m, d in zip(rows["movie_id"], rows["release_date"], strict=True)}
    late = {
        m
        for m, d in released.items()
        if pd.notna(d) and pd.Timestamp(d).date() - date(1990, 1, 1) > STALE_AFTER
    }
    assert len(late) > MOVIES // 2
    for a, b in zip(stale_looked_up, stale_computed, strict=True):
        assert a.warnings == b.warnings
        assert bool(a.warnings) == (a.movie_id in late), (a.movie_id, released[a.movie_id])
        if a.warnings:
            assert "newest release this model learned from (1990-01-01)" in a.warnings[0]
    assert sorted(stored) == sorted(ids)  # every one of them came from the table
    _same(looked_up, _through_the_pipeline(predictor).explain(rows))
    for a, b in zip(looked_up, computed, strict=True):
        assert (a.success_probability, a.top_factors) == (b.success_probability, b.top_factors)
    # the mart carries the factors for analysts too
    [(missing,)] = query(
        warehouse.database_url,
        "select count(*) from marts.movie_success_predictions"
        " where model_version = %s and top_factors is null",
        (version,),
    )
    assert missing == 0


def test_a_stored_score_whose_features_changed_is_computed_afresh(
    warehouse, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    version, _ = score_movies(settings())
    predictor = Predictor(warehouse.model)
    ids = [int(movie_id) for movie_id in _rows(warehouse)["movie_id"][:3]]
    conn = psycopg2.connect(warehouse.database_url)
    try:
        with conn.cursor() as cur:  # as if a later build had changed this movie's features
            cur.execute(
                "update marts.movie_success_predictions set success_probability = 0.999,"
                " features_digest = 'from an older row' where movie_id = %s"
                " and model_version = %s",
                (ids[0], version),
            )
        conn.commit()
        assert sorted(predictor.stored(conn, ids)) == sorted(ids[1:])
        [answer] = predictor.predict_movies(conn, ids[:1])
    finally:
        conn.rollback()
        conn.close()
        score_movies(settings())
    assert answer.success_probability != 0.999
    [fresh] = _through_the_pipeline(predictor).explain(_rows(warehouse).iloc[:1])
    assert (answer.success_probability, answer.top_factors) == (
        fresh.success_probability,
        fresh.top_factors,
    )


def test_scoring_again_explains_only_the_movies_whose_features_changed(
    warehouse, monkeypatch, tmp_path
) -> None:
    """A daily increment re-scores what changed: an unchanged features row keeps its stored
    score (same model, same digest), a changed one is explained afresh, and every movie still
    holds exactly one score of the model."""
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    version, first = score_movies(settings())
    stamps = "select movie_id, scored_at from ml.movie_success_scores where model_version = %s"
    before = dict(query(warehouse.database_url, stamps, (version,)))
    changed = sorted(before)[0]
    row = "select runtime_minutes, features_digest from marts.ml_movie_features where movie_id = %s"
    [(original, digest)] = query(warehouse.database_url, row, (changed,))
    conn = psycopg2.connect(warehouse.database_url)
    try:
        with conn.cursor() as cur:  # as a later build would: one movie's features move
            cur.execute(
                "update marts.ml_movie_features set runtime_minutes = %s,"
                " features_digest = md5(features_digest) where movie_id = %s",
                ((original or 90) + 1, changed),
            )
        conn.commit()
        _, again = score_movies(settings())
        after = dict(query(warehouse.database_url, stamps, (version,)))
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "update marts.ml_movie_features set runtime_minutes = %s,"
                " features_digest = %s where movie_id = %s",
                (original, digest, changed),
            )
        conn.commit()
        conn.close()
        score_movies(settings())
    assert again == first == len(after) == len(before)
    assert after[changed] > before[changed]
    assert {m: t for m, t in after.items() if m != changed} == {
        m: t for m, t in before.items() if m != changed
    }
