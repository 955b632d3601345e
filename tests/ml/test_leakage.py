"""Nothing known only after release reaches the model."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.features import POST_RELEASE_COLUMNS, RAW_COLUMNS, LeakageError, Vocabulary, model_inputs
from tests.conftest import query


def test_post_release_columns_are_refused() -> None:
    raw = pd.DataFrame([dict.fromkeys(RAW_COLUMNS)])
    raw["genre_names"] = [["Drama"]]
    raw["production_company_names"] = [[]]
    raw["is_in_collection"] = [False]
    vocabulary = Vocabulary(genres=("Drama",), companies=())
    model_inputs(raw, vocabulary)  # the pre-release columns alone are fine
    for column in ("popularity", "vote_count", "revenue_usd", "roi", "is_commercial_success"):
        with pytest.raises(LeakageError, match=column):
            model_inputs(raw.assign(**{column: 1.0}), vocabulary)


def test_the_trained_model_sees_only_pre_release_inputs(warehouse) -> None:
    model = warehouse.model
    features = model.metadata["features"]
    fitted = list(model.model.feature_names_in_)
    assert fitted == features
    forbidden = {"popularity", "vote", "revenue_usd", "profit", "roi", "refreshed", "observed"}
    for name in fitted:
        allowed_revenue = name.endswith("prior_median_revenue_usd")  # earlier films only
        assert allowed_revenue or not any(word in name for word in forbidden), name


def test_the_features_mart_holds_no_post_release_column(warehouse) -> None:
    columns = {
        row[0]
        for row in query(
            warehouse.database_url,
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'ml_movie_features'",
        )
    }
    assert columns >= set(RAW_COLUMNS)
    assert columns & POST_RELEASE_COLUMNS == {"is_commercial_success"}  # the label only
