"""The classifier's features, declared once.

Every list the classifier needs follows from `FEATURES` (the model's inputs, in the order the
model sees them) and `CONTEXT_COLUMNS` (the other columns of `marts.ml_movie_features`):
which mart columns to read (`RAW_COLUMNS`), which inputs are categorical, the explanation
factors (`FACTOR_GROUPS`) that `/predict` and the model card name. Adding, renaming or dropping
a feature is one edit here (and the mart's contract, which `tests/ml/test_feature_spec.py`
holds this against).

The order of `FEATURES` is the order of the model's input columns, and `FACTORS` the order in
which explanations list factors of equal weight: both are part of what a trained model is, so
they stay as they are unless a model is meant to change.

This module imports nothing heavy: the model card and the API read it without pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

LABEL = "is_commercial_success"


class Kind(StrEnum):
    """How a mart column becomes model input."""

    NUMERIC = "numeric"  # the number as it is (a float, NaN when unknown)
    LOG10 = "log10"  # log10 of a positive amount of money (NaN when unknown or not positive)
    FLAG = "flag"  # a boolean as 0.0 / 1.0
    CATEGORICAL = "categorical"  # a label the model encodes itself
    INDICATORS = "indicators"  # a list: one 0/1 column per name of the training vocabulary


@dataclass(frozen=True)
class Feature:
    """One model input (or, for `INDICATORS`, one family of them: `<name>:<value>`)."""

    name: str
    kind: Kind
    factor: str
    description: str
    # The `ml_movie_features` column it is computed from, when its name differs.
    column: str | None = None
    # Only pre-release facts may be features; a track record counts earlier films only.
    known_before_release: bool = True
    # False for a position in calendar time that every movie asked about lies beyond: trees
    # put all of them in their last bin, so they would learn the newest years' success rate
    # as a property of the year and carry it forward flat. Such a column stays computed (old
    # models use it) but new models leave it out, with the reason "calendar time"; the base
    # rate's drift is carried by calibrating on the newest years instead (`ml.train`).
    extrapolates: bool = True

    @property
    def source(self) -> str:
        return self.column or self.name

    @property
    def pattern(self) -> str:
        """The input column name, or `<name>:*` for a family of indicators."""
        return f"{self.name}:*" if self.kind is Kind.INDICATORS else self.name


@dataclass(frozen=True)
class ContextColumn:
    """A column of `ml_movie_features` that is read but is not a model input."""

    name: str
    why: str


# Explanation factors: what a person would call one factor, in the order explanations list them.
FACTORS = (
    "budget",
    "runtime",
    "release timing",
    "genres",
    "original language",
    "US certification",
    "part of a collection",
    "production companies",
    "keywords",
    "director's track record",
    "top cast's track record",
)

_DIRECTOR = "director's track record"
_CAST = "top cast's track record"

FEATURES: tuple[Feature, ...] = (
    Feature("log_budget_usd", Kind.LOG10, "budget", "log10 of the reliable budget",
            column="budget_usd"),
    Feature("runtime_minutes", Kind.NUMERIC, "runtime", "running time in minutes"),
    Feature("release_year", Kind.NUMERIC, "release timing", "year of release",
            extrapolates=False),
    Feature("release_month", Kind.NUMERIC, "release timing", "month of release"),
    Feature("release_day_of_week", Kind.NUMERIC, "release timing", "ISO day of week"),
    Feature("genre_count", Kind.NUMERIC, "genres", "number of genres"),
    Feature("production_company_count", Kind.NUMERIC, "production companies",
            "number of production companies"),
    Feature("keyword_count", Kind.NUMERIC, "keywords", "number of keywords"),
    Feature("director_prior_film_count", Kind.NUMERIC, _DIRECTOR,
            "the director's earlier films"),
    Feature("director_prior_success_rate", Kind.NUMERIC, _DIRECTOR,
            "share of the director's earlier labelled films that succeeded"),
    Feature("top_cast_count", Kind.NUMERIC, _CAST, "number of top-billed actors"),
    Feature("cast_prior_film_count", Kind.NUMERIC, _CAST,
            "mean earlier film count of the top cast"),
    Feature("cast_prior_success_rate", Kind.NUMERIC, _CAST,
            "mean earlier success rate of the top cast"),
    Feature("is_in_collection", Kind.FLAG, "part of a collection", "part of a collection"),
    Feature("log_director_prior_median_revenue_usd", Kind.LOG10, _DIRECTOR,
            "log10 of the median reliable revenue of the director's earlier films",
            column="director_prior_median_revenue_usd"),
    Feature("log_cast_prior_median_revenue_usd", Kind.LOG10, _CAST,
            "log10 of the top cast's mean median reliable revenue of earlier films",
            column="cast_prior_median_revenue_usd"),
    Feature("original_language", Kind.CATEGORICAL, "original language", "ISO 639-1 code"),
    Feature("us_certification", Kind.CATEGORICAL, "US certification", "US MPA rating"),
    Feature("release_season", Kind.CATEGORICAL, "release timing", "northern-hemisphere season"),
    Feature("primary_genre", Kind.CATEGORICAL, "genres", "the first listed genre"),
    Feature("genre", Kind.INDICATORS, "genres", "one indicator per genre of the vocabulary",
            column="genre_names"),
    Feature("company", Kind.INDICATORS, "production companies",
            "one indicator per frequent production company", column="production_company_names"),
)  # fmt: skip

CONTEXT_COLUMNS: tuple[ContextColumn, ...] = (
    ContextColumn("movie_id", "the key: which movie a row and its prediction belong to"),
    ContextColumn("release_date", "the point in time: orders the time split"),
    ContextColumn("release_quarter", "for analysts; the month already tells the model"),
)

# Known only after release (or the label itself): never a model input, whatever the spec says.
# Columns of `ml_movie_features` that say how a row was built, not what the movie is: never read
# as features or context (the scores' check reads `features_digest` by name, `ml.features`).
BOOKKEEPING_COLUMNS: tuple[ContextColumn, ...] = (
    ContextColumn("features_digest", "what a stored score is checked against"),
    ContextColumn("built_at", "which build wrote the row (the incremental mart's watermark)"),
)

POST_RELEASE_COLUMNS = frozenset(
    {
        "popularity",
        "vote_average",
        "vote_count",
        "revenue_usd",
        "profit_usd",
        "roi",
        LABEL,
        "is_financially_reliable",
        "last_refreshed_at",
        "observed_at",
        "snapshot_date",
        "status",
    }
)

# What is read from marts.ml_movie_features, minus the label: the raw, pre-release inputs.
RAW_COLUMNS: list[str] = list(
    dict.fromkeys([*(c.name for c in CONTEXT_COLUMNS), *(f.source for f in FEATURES)])
)
CATEGORICAL_INPUTS: list[str] = [f.name for f in FEATURES if f.kind is Kind.CATEGORICAL]
NOT_EXTRAPOLATING: list[str] = [f.name for f in FEATURES if not f.extrapolates]
FACTOR_GROUPS: dict[str, list[str]] = {
    factor: [f.pattern for f in FEATURES if f.factor == factor] for factor in FACTORS
}


def factor_columns(columns: Iterable[str]) -> dict[str, list[str]]:
    """Input columns per explanation factor, for the given input columns (a frame's columns or
    a model's feature list), indicator families expanded."""
    names = list(columns)
    groups: dict[str, list[str]] = {}
    for factor, patterns in FACTOR_GROUPS.items():
        found: list[str] = []
        for pattern in patterns:
            if pattern.endswith("*"):
                found += [c for c in names if c.startswith(pattern[:-1])]
            elif pattern in names:
                found.append(pattern)
        groups[factor] = found
    return groups


def factors_used(columns: Iterable[str]) -> list[str]:
    """The explanation factors that have at least one of these input columns."""
    return [factor for factor, found in factor_columns(columns).items() if found]


def _check() -> None:
    """The spec's own consistency, checked on import: a slip would silently change the model."""
    unknown = {f.factor for f in FEATURES} - set(FACTORS)
    leaked = {f.name for f in FEATURES if not f.known_before_release}
    leaked |= {f.source for f in FEATURES} & POST_RELEASE_COLUMNS
    names = [f.name for f in FEATURES]
    if unknown or leaked or len(set(names)) != len(names):
        raise ValueError(f"feature spec: unknown factors {unknown}, post-release {leaked}")


_check()
