"""Training on a catalogue that lacks whole feature families (no cast, keywords, collections or
companies; one language), as real catalogues do: features with nothing to learn from are left
out and named, the rest trains, and too little left is a one-line error."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import psycopg2
import pytest

from ingestion.fake_tmdb import Catalogue
from ingestion.fake_tmdb.catalogue import FEATURE_FAMILIES
from ml import artifacts
from ml.artifacts import LoadedModel
from ml.feature_sql import description_rules
from ml.features import FACTOR_GROUPS, LABEL, RAW_COLUMNS, MovieDescription, factor_columns
from ml.predict import Predictor
from ml.train import MIN_FEATURES, NotEnoughData, train, usable_features
from tests.builders import trained_warehouse_env
from tests.conftest import settings
from warehouse.settings import reset_settings_cache

TODAY = date(2026, 1, 15)

# What a catalogue without cast, keywords, collections and companies, in one language, leaves
# the model nothing to learn from (company indicators never exist: no company to name).
EXPECTED_DROPPED = {
    "cast_prior_film_count": "missing",
    "cast_prior_success_rate": "missing",
    "log_cast_prior_median_revenue_usd": "missing",
    "top_cast_count": "constant",
    "keyword_count": "constant",
    "is_in_collection": "constant",
    "production_company_count": "constant",
    "original_language": "constant",
    # not for want of data: new models never learn from the calendar year (ml.feature_spec)
    "release_year": "calendar time",
}
UNREPORTED_FACTORS = {
    "top cast's track record",
    "keywords",
    "part of a collection",
    "production companies",
    "original language",
}


def _factors(features: list[str]) -> set[str]:
    return {f for f, columns in factor_columns(pd.DataFrame(columns=features)).items() if columns}


# --- a hand-made feature frame: fast, no warehouse ---------------------------------------------


def _sparse_rows(movies: int = 300, seed: int = 1) -> pd.DataFrame:
    """`ml_movie_features` rows as such a catalogue gives them, label included."""
    rng = random.Random(seed)
    rows = []
    for i in range(movies):
        when = date(1990, 1, 1) + timedelta(days=5 * i)
        budget = int(10 ** rng.uniform(6, 8.3))
        genres = rng.sample(["Action", "Drama", "Comedy", "Horror"], rng.randint(1, 2))
        director_films = rng.choice([0, 0, 1, 2, 3, 5])
        skill = rng.gauss(0, 1)
        odds = 0.6 * skill + 0.4 * ("Horror" in genres) - 0.3 * math.log10(budget / 1e7)
        rows.append(
            {
                "movie_id": i + 1,
                "release_date": when,
                "release_year": when.year,
                "release_month": when.month,
                "release_quarter": (when.month - 1) // 3 + 1,
                "release_day_of_week": when.isoweekday(),
                "release_season": "summer" if when.month in (6, 7, 8) else "other",
                "budget_usd": budget,
                "runtime_minutes": rng.randint(80, 150),
                "original_language": "en",
                "us_certification": rng.choice(["PG", "PG-13", "R", None]),
                "genre_names": genres,
                "genre_count": len(genres),
                "primary_genre": genres[0],
                "is_in_collection": False,
                "production_company_names": [],
                "production_company_count": 0,
                "keyword_count": 0,
                "director_prior_film_count": director_films,
                "director_prior_success_rate": (
                    min(max(0.5 + 0.2 * skill, 0.0), 1.0) if director_films else None
                ),
                "director_prior_median_revenue_usd": (
                    budget * 2.0 ** skill if director_films else None
                ),
                "top_cast_count": 0,
                "cast_prior_film_count": None,
                "cast_prior_success_rate": None,
                "cast_prior_median_revenue_usd": None,
                LABEL: rng.random() < 1 / (1 + math.exp(-odds)),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=[*RAW_COLUMNS, LABEL])


def test_usable_features_decides_on_the_training_split() -> None:
    n = 100
    inputs = pd.DataFrame(
        {
            "all_missing": [float("nan")] * n,
            "constant": [3.0] * n,
            # varies only in the newest fifth of the rows: constant in what the model sees
            "constant_until_the_test_rows": [0.0] * 80 + [1.0] * 20,
            "few_known": [1.0, 2.0, 3.0] + [float("nan")] * (n - 3),
            "one_value_or_unknown": [1.0, float("nan")] * (n // 2),
            "two_values": [0.0, 1.0] * (n // 2),
            "fine": [float(i) for i in range(n)],
            "one_level": ["en"] * n,
            "levels": ["PG", "R", None, "PG-13"] * (n // 4),
        }
    )
    training = inputs.iloc[:80]
    kept, dropped = usable_features(training)
    assert dropped == {
        "all_missing": "missing",
        "constant": "constant",
        "constant_until_the_test_rows": "constant",
        "few_known": "too few known values",
        "one_level": "constant",
    }
    assert kept == ["one_value_or_unknown", "two_values", "fine", "levels"]
    # on all rows the late-varying column would have looked usable
    assert "constant_until_the_test_rows" in usable_features(inputs)[0]


def test_training_leaves_out_what_the_catalogue_lacks(monkeypatch, tmp_path) -> None:
    rows = _sparse_rows()
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: rows)
    # four years of 300 films judge little: promote whatever the backtest says
    model = train(None, tmp_path, manifest_hash="test", version="hand-v1", force=True)
    metadata = model.metadata
    assert metadata.dropped_features == EXPECTED_DROPPED
    assert not set(metadata.features) & set(EXPECTED_DROPPED)
    assert list(model.model.feature_names_in_) == metadata.features
    assert not [c for c in metadata.features if c.startswith("company:")]
    assert "budget-only logistic regression" in metadata.metrics
    assert _factors(metadata.features) == set(FACTOR_GROUPS) - UNREPORTED_FACTORS


def test_without_a_usable_budget_there_is_no_budget_baseline(monkeypatch, tmp_path) -> None:
    rows = _sparse_rows().assign(budget_usd=5_000_000)
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: rows)
    model = train(None, tmp_path, manifest_hash="test", version="hand-v3", force=True)
    assert model.metadata.dropped_features == {**EXPECTED_DROPPED, "log_budget_usd": "constant"}
    assert list(model.metadata.metrics) == ["model", "base rate"]
    card = (model.path / artifacts.CARD_FILE).read_text()
    assert "No budget-only baseline" in card and "log_budget_usd" in card


def _only_budget_and_runtime_vary() -> pd.DataFrame:
    """One release day and one of everything else: two usable features."""
    rows = _sparse_rows()
    for column in ("release_date", "release_year", "release_month", "release_quarter",
                   "release_day_of_week", "release_season", "us_certification", "primary_genre",
                   "director_prior_film_count", "director_prior_success_rate",
                   "director_prior_median_revenue_usd"):  # fmt: skip
        rows[column] = rows[column].iloc[0]
    rows["genre_names"] = [["Drama"]] * len(rows)
    rows["genre_count"] = 1
    return rows


def test_too_few_usable_features_is_a_one_line_not_enough_data(monkeypatch, tmp_path) -> None:
    rows = _only_budget_and_runtime_vary()
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: rows)
    with pytest.raises(NotEnoughData) as failure:
        train(None, tmp_path, manifest_hash="test", version="hand-v2")
    message = str(failure.value)
    assert "\n" not in message
    assert f"only 2 usable feature(s) in the training data, need at least {MIN_FEATURES}" in message
    assert "keyword_count (constant)" in message and "cast_prior_film_count (missing)" in message
    assert not (tmp_path / "models").exists()


def test_the_cli_says_so_in_one_line(monkeypatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    class NoConnection:
        def close(self) -> None:
            pass

    rows = _only_budget_and_runtime_vary()
    monkeypatch.setattr("ml.pipeline.bootstrap", lambda settings: "unused")
    monkeypatch.setattr("ml.pipeline.connect", lambda url: NoConnection())
    monkeypatch.setattr("ml.train.load_feature_rows", lambda conn, **_: rows)
    monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    reset_settings_cache()
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 1, result.output
    # Progress lines ("[2/8] time split: ...") come first on stderr; the error is one line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not re.match(r"\[\d+/\d+\] ", line)]
    assert len(lines) == 1 and lines[0].startswith("error: only"), result.stderr
    assert "usable feature" in lines[0] and "Traceback" not in result.output


# --- end to end: the local TMDB server → warehouse → model → /predict -------------------------


@dataclass(frozen=True)
class SparseWarehouse:
    database_url: str
    model: LoadedModel


@pytest.fixture(scope="module")
def sparse(
    pg_socket_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparseWarehouse]:
    folder = tmp_path_factory.mktemp("ml-sparse-warehouse")
    catalogue = Catalogue(7, 1200, day=0, today=TODAY, without=FEATURE_FAMILIES, language="en")
    with trained_warehouse_env(pg_socket_url, folder, catalogue, "sparse-v1") as (url, model):
        yield SparseWarehouse(url, model)


def test_a_sparse_catalogue_trains_without_the_missing_families(sparse) -> None:
    metadata = sparse.model.metadata
    assert metadata.training_rows + metadata.test_rows >= 60
    assert metadata.dropped_features == EXPECTED_DROPPED
    features = metadata.features
    assert not set(features) & set(EXPECTED_DROPPED)
    assert not [c for c in features if c.startswith("company:")]
    assert list(sparse.model.model.feature_names_in_) == features
    assert not set(metadata.reference_values) & set(EXPECTED_DROPPED)
    assert "log_budget_usd" in features and "director_prior_film_count" in features

    on_disk = json.loads((sparse.model.path / artifacts.METADATA_FILE).read_text())
    assert on_disk["dropped_features"] == EXPECTED_DROPPED
    card = (sparse.model.path / artifacts.CARD_FILE).read_text()
    left_out = card.split("### Features left out", 1)[1].split("## Metrics", 1)[0]
    for name, reason in EXPECTED_DROPPED.items():
        assert name in left_out and reason in left_out, name
    data = card.split("## Data", 1)[1].split("### Features left out", 1)[0]
    assert "keywords" not in data and "top cast" not in data and "director" in data


def test_predictions_never_explain_with_a_dropped_factor(sparse) -> None:
    predictor = Predictor(sparse.model)
    conn = psycopg2.connect(sparse.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select movie_id from marts.ml_movie_features where release_date is not null"
                " order by movie_id limit 30"
            )
            ids = [row[0] for row in cur.fetchall()]
        by_id = predictor.predict_movies(conn, ids)
        plain = MovieDescription(
            release_date=date(2027, 6, 4), budget_usd=40_000_000, genres=["Action", "Comedy"],
            runtime_minutes=110, us_certification="PG-13",
        )  # fmt: skip
        # the same movie described with everything this catalogue has no record of
        detailed = replace(
            plain,
            original_language="fr",
            in_collection=True,
            top_cast=["Someone Famous", "Another Star"],
            production_companies=["Summit Pictures"],
            keywords=["heist", "sequel", "superhero"],
        )
        described = predictor.predict_descriptions(
            conn, [plain, detailed], description_rules(settings())
        )
    finally:
        conn.close()
    assert len(by_id) == len(ids) and len({p.success_probability for p in by_id}) > 5
    for prediction in [*by_id, *described]:
        assert 0.0 < prediction.success_probability < 1.0
        named = {factor["feature"] for factor in prediction.top_factors}
        assert named and not named & UNREPORTED_FACTORS, named
    assert described[0].success_probability == described[1].success_probability


def test_tmdb_train_prints_the_features_it_left_out(sparse, monkeypatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", sparse.database_url)
    monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    reset_settings_cache()
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 0, result.output
    summary = result.stdout.split("features left out of this model:", 1)[1]
    for name in EXPECTED_DROPPED:
        assert name in summary, name
    assert "missing" in summary and "constant" in summary
