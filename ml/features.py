"""The classifier's features: one path from a feature row to the model's inputs, for training,
batch scoring and `/predict`. What the features are is declared in `ml.feature_spec`.

Rows come two ways, and both end in `model_inputs`:
- a catalogued movie: its row of `marts.ml_movie_features` (built by dbt);
- a pre-release description (the body of `POST /predict`): the same columns, computed by the
  same SQL rules the mart is built with (`ml.feature_sql`), with director and cast names looked
  up in the warehouse for their track records as of the given release date.

Only pre-release facts are allowed in. `POST_RELEASE_COLUMNS` names what must never reach the
model; `model_inputs` refuses a frame that carries any of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extensions import connection as Connection

from ml.feature_spec import (
    CATEGORICAL_INPUTS,
    FACTOR_GROUPS,
    FEATURES,
    LABEL,
    POST_RELEASE_COLUMNS,
    RAW_COLUMNS,
    Kind,
    factor_columns,
)
from ml.feature_sql import DescriptionRules

__all__ = [
    "CATEGORICAL_INPUTS",
    "FACTOR_GROUPS",
    "LABEL",
    "POST_RELEASE_COLUMNS",
    "RAW_COLUMNS",
    "LeakageError",
    "MovieDescription",
    "Vocabulary",
    "factor_columns",
    "input_columns",
    "load_feature_rows",
    "model_inputs",
    "raw_rows_for_descriptions",
]


class LeakageError(ValueError):
    """A post-release column was about to reach the model."""


@dataclass(frozen=True)
class Vocabulary:
    """Which genres and companies get their own indicator; fixed at training time."""

    genres: tuple[str, ...]
    companies: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"genres": list(self.genres), "companies": list(self.companies)}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[str]]) -> Vocabulary:
        return cls(genres=tuple(data["genres"]), companies=tuple(data["companies"]))

    @classmethod
    def learn(cls, raw: pd.DataFrame, top_companies: int = 20) -> Vocabulary:
        genres = sorted({g for names in raw["genre_names"] for g in _as_list(names)})
        counts = pd.Series(
            [c for names in raw["production_company_names"] for c in _as_list(names)]
        )
        companies = (
            counts.value_counts()
            .sort_index(kind="stable")
            .sort_values(ascending=False, kind="stable")
        )
        return cls(genres=tuple(genres), companies=tuple(companies.index[:top_companies]))

    def names(self, family: str) -> tuple[str, ...]:
        """The names of an indicator family of `FEATURES` ("genre", "company")."""
        return {"genre": self.genres, "company": self.companies}[family]


@dataclass
class MovieDescription:
    """A movie before release, as `POST /predict` describes it."""

    release_date: date
    budget_usd: int | None = None
    genres: list[str] = field(default_factory=list)
    title: str | None = None
    runtime_minutes: int | None = None
    original_language: str | None = None
    us_certification: str | None = None
    in_collection: bool | None = None
    director: str | None = None
    top_cast: list[str] = field(default_factory=list)
    production_companies: list[str] = field(default_factory=list)
    keywords: list[str] | None = None


def _as_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return list(value)


def _floats(values: Any) -> np.ndarray:
    """Numbers as floats, None (and anything not a number) as NaN."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(dtype=float)


def _log10(values: Any) -> np.ndarray:
    numbers = _floats(values)
    positive = numbers > 0
    return np.where(positive, np.log10(np.where(positive, numbers, 1.0)), np.nan)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def input_columns(raw: Mapping[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """Raw feature columns (a frame, or a mapping of column → values) → the model's input
    columns, one per `FEATURES` entry in its order (a family of indicators per name).

    This is the one transformation for every path: training and batch scoring frame its
    result (`model_inputs`); `/predict` hands it to the explainer as arrays, without pandas."""
    leaked = POST_RELEASE_COLUMNS & set(raw.keys())
    if leaked:
        raise LeakageError(f"post-release columns must not reach the model: {sorted(leaked)}")
    columns: dict[str, Any] = {}
    for feature in FEATURES:
        values = raw[feature.source]
        if feature.kind is Kind.NUMERIC or feature.kind is Kind.FLAG:
            columns[feature.name] = _floats(values)
        elif feature.kind is Kind.LOG10:
            columns[feature.name] = _log10(values)
        elif feature.kind is Kind.CATEGORICAL:
            columns[feature.name] = np.array(
                [None if _missing(v) else v for v in values], dtype=object
            )
        else:  # Kind.INDICATORS
            present = [set(_as_list(names)) for names in values]
            for name in vocabulary.names(feature.name):
                columns[f"{feature.name}:{name}"] = np.array(
                    [float(name in found) for found in present]
                )
    return columns


def model_inputs(raw: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    """Raw feature rows → the model's input frame (`input_columns`, framed once: far cheaper
    than inserting columns one by one)."""
    return pd.DataFrame(input_columns(raw, vocabulary), index=raw.index)


# --- rows from the warehouse -------------------------------------------------------------------


def _frame(cur) -> pd.DataFrame:
    """A cursor's rows as a frame named by the query's own column names."""
    return pd.DataFrame(cur.fetchall(), columns=[column.name for column in cur.description])


# A digest of a movie's features row, as PostgreSQL renders it, computed by the mart itself
# (bookkeeping columns left out): a stored score is the answer only while the row it was
# computed from is unchanged.
FEATURES_DIGEST = "ml_movie_features.features_digest"


#: What a feature row holds for training and scoring: the raw features and the label.
FEATURE_ROW_COLUMNS = ", ".join([*RAW_COLUMNS, LABEL])


def load_feature_rows(
    conn: Connection, movie_ids: Sequence[int] | None = None, *, schema: str = "marts"
) -> pd.DataFrame:
    """Rows of `marts.ml_movie_features` (all, or the given movies), label included. `tmdb
    refresh` reads the shadow marts it is about to swap in (`schema`), so the scores it
    publishes come from the features published with them."""
    query = f"select {FEATURE_ROW_COLUMNS} from {schema}.ml_movie_features"
    params: tuple = ()
    if movie_ids is not None:
        query += " where movie_id = any(%s)"
        params = (list(movie_ids),)
    with conn.cursor() as cur:
        cur.execute(query + " order by movie_id", params)
        return _frame(cur)


def stream_unscored_rows(
    conn: Connection, model_version: str, chunk: int, *, schema: str = "marts"
) -> Iterator[pd.DataFrame]:
    """Rows of `marts.ml_movie_features` (digest included) that `model_version` has no stored
    score for, `chunk` at a time from a server-side cursor, so scoring the whole catalogue
    holds one chunk in memory, not the catalogue."""
    with conn.cursor(name="unscored_feature_rows") as cur:
        cur.itersize = chunk
        cur.execute(
            f"select {FEATURE_ROW_COLUMNS}, {FEATURES_DIGEST} as features_digest"
            f" from {schema}.ml_movie_features where not exists (select 1 from"
            " ml.movie_success_scores as scores where scores.movie_id ="
            " ml_movie_features.movie_id and scores.model_version = %s) order by movie_id",
            (model_version,),
        )
        while rows := cur.fetchmany(chunk):
            yield pd.DataFrame(rows, columns=[column.name for column in cur.description])


# --- rows from a pre-release description -------------------------------------------------------


def _distinct(values: Sequence[str | None]) -> list[str]:
    """Non-empty values, first occurrence kept, in the order given."""
    return list(dict.fromkeys(v for v in values if v))


def _top_cast(description: MovieDescription, size: int) -> list[str]:
    """The first `size` distinct names of the cast (case and surrounding blanks ignored)."""
    seen: dict[str, str] = {}
    for name in description.top_cast:
        if name and name.strip():
            seen.setdefault(name.strip().lower(), name.strip())
    return list(seen.values())[:size]


def _credits(descriptions: Sequence[MovieDescription], size: int) -> dict[str, list]:
    """The credited people of each description, as the query's parallel arrays."""
    columns: dict[str, list] = {
        "credit_slot": [], "credit_rank": [], "credit_name": [], "credit_role": []
    }  # fmt: skip
    for slot, d in enumerate(descriptions):
        # a blank director is still a director, one the warehouse cannot know: a newcomer
        director = [("director", d.director)] if d.director else []
        people = director + [("cast", name) for name in _top_cast(d, size)]
        for rank, (role, name) in enumerate(people, start=1):
            columns["credit_slot"].append(slot)
            columns["credit_rank"].append(rank)
            columns["credit_name"].append(name.strip().lower())
            columns["credit_role"].append(role)
    return columns


def raw_columns_for_descriptions(
    conn: Connection, descriptions: Sequence[MovieDescription], rules: DescriptionRules
) -> dict[str, list[Any]]:
    """The `ml_movie_features` columns for movies described before release, as lists.

    Timing, budget and track records come from the warehouse, computed by the mart's own SQL
    rules (`ml.feature_sql`); the lists a description brings (genres, companies, keywords) are
    tidied here, as the catalogue's are by its staging models.
    """
    if not descriptions:
        return {column: [] for column in RAW_COLUMNS}
    params = {
        "slot": list(range(len(descriptions))),
        "release_date": [d.release_date for d in descriptions],
        "budget_usd": [d.budget_usd for d in descriptions],
        **_credits(descriptions, rules.top_cast_size),
    }
    with conn.cursor() as cur:
        cur.execute(rules.query, params)
        names = [column.name for column in cur.description]
        computed = dict(zip(names, map(list, zip(*cur.fetchall(), strict=True)), strict=True))
    listed = [description_lists(d) for d in descriptions]
    columns = {name: computed[name] for name in names if name != "slot"}
    for name in listed[0]:
        columns[name] = [row[name] for row in listed]
    columns["movie_id"] = [None] * len(descriptions)
    return {column: columns[column] for column in RAW_COLUMNS}


def raw_rows_for_descriptions(
    conn: Connection, descriptions: Sequence[MovieDescription], rules: DescriptionRules
) -> pd.DataFrame:
    """`raw_columns_for_descriptions` as a frame, like `load_feature_rows` gives."""
    columns = raw_columns_for_descriptions(conn, descriptions, rules)
    return pd.DataFrame(columns, columns=RAW_COLUMNS)


def description_lists(d: MovieDescription) -> dict[str, Any]:
    """The columns a description states directly: its lists, counted, and its plain facts."""
    genres = _distinct(d.genres)
    companies = _distinct(d.production_companies)
    return {
        "runtime_minutes": d.runtime_minutes or None,
        "original_language": d.original_language or None,
        "us_certification": d.us_certification or None,
        "genre_names": genres,
        "genre_count": len(genres),
        "primary_genre": genres[0] if genres else None,
        "is_in_collection": bool(d.in_collection),
        "production_company_names": companies,
        "production_company_count": len(companies),
        "keyword_count": len(set(d.keywords)) if d.keywords is not None else None,
    }
