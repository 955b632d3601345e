"""The classifier's features: one definition for training, batch scoring and `/predict`.

Rows come two ways, and both end in `model_inputs`:
- a catalogued movie: its row of `marts.ml_movie_features` (built by dbt);
- a pre-release description (the body of `POST /predict`): the same raw columns, computed here,
  with director, cast and company names looked up in the warehouse for their track records as
  of the given release date (`marts.ml_person_filmography`), exactly as dbt computes them.

Only pre-release facts are allowed in. `POST_RELEASE_COLUMNS` names what must never reach the
model; `model_inputs` refuses a frame that carries any of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extensions import connection as Connection

LABEL = "is_commercial_success"

# What marts.ml_movie_features holds, minus the label: the raw, pre-release inputs.
RAW_COLUMNS = [
    "movie_id",
    "release_date",
    "release_year",
    "release_month",
    "release_quarter",
    "release_day_of_week",
    "release_season",
    "budget_usd",
    "runtime_minutes",
    "original_language",
    "us_certification",
    "genre_names",
    "genre_count",
    "primary_genre",
    "is_in_collection",
    "production_company_names",
    "production_company_count",
    "keyword_count",
    "director_prior_film_count",
    "director_prior_success_rate",
    "director_prior_median_revenue_usd",
    "top_cast_count",
    "cast_prior_film_count",
    "cast_prior_success_rate",
    "cast_prior_median_revenue_usd",
]

# Known only after release: never a model input.
POST_RELEASE_COLUMNS = frozenset(
    {
        "popularity",
        "vote_average",
        "vote_count",
        "revenue_usd",
        "profit_usd",
        "roi",
        "is_commercial_success",
        "is_financially_reliable",
        "last_refreshed_at",
        "observed_at",
        "snapshot_date",
        "status",
    }
)

NUMERIC_INPUTS = [
    "log_budget_usd",
    "runtime_minutes",
    "release_year",
    "release_month",
    "release_day_of_week",
    "genre_count",
    "production_company_count",
    "keyword_count",
    "is_in_collection",
    "director_prior_film_count",
    "director_prior_success_rate",
    "log_director_prior_median_revenue_usd",
    "top_cast_count",
    "cast_prior_film_count",
    "cast_prior_success_rate",
    "log_cast_prior_median_revenue_usd",
]
CATEGORICAL_INPUTS = ["original_language", "us_certification", "release_season", "primary_genre"]

# Feature groups for explanations: what a person would call one factor.
FACTOR_GROUPS = {
    "budget": ["log_budget_usd"],
    "runtime": ["runtime_minutes"],
    "release timing": ["release_year", "release_month", "release_day_of_week", "release_season"],
    "genres": ["genre_count", "primary_genre", "genre:*"],
    "original language": ["original_language"],
    "US certification": ["us_certification"],
    "part of a collection": ["is_in_collection"],
    "production companies": ["production_company_count", "company:*"],
    "keywords": ["keyword_count"],
    "director's track record": [
        "director_prior_film_count",
        "director_prior_success_rate",
        "log_director_prior_median_revenue_usd",
    ],
    "top cast's track record": [
        "top_cast_count",
        "cast_prior_film_count",
        "cast_prior_success_rate",
        "log_cast_prior_median_revenue_usd",
    ],
}


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


def _log10(series: pd.Series) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype(float)
    return np.log10(values.where(values > 0))


def model_inputs(raw: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    """Raw feature rows → the model's input frame (the one transformation for every path)."""
    leaked = POST_RELEASE_COLUMNS & set(raw.columns)
    if leaked:
        raise LeakageError(f"post-release columns must not reach the model: {sorted(leaked)}")
    # Columns are collected first and framed once: far cheaper than inserting one by one.
    columns: dict[str, Any] = {"log_budget_usd": _log10(raw["budget_usd"])}
    for column in (
        "runtime_minutes",
        "release_year",
        "release_month",
        "release_day_of_week",
        "genre_count",
        "production_company_count",
        "keyword_count",
        "director_prior_film_count",
        "director_prior_success_rate",
        "top_cast_count",
        "cast_prior_film_count",
        "cast_prior_success_rate",
    ):
        columns[column] = pd.to_numeric(raw[column], errors="coerce").astype(float)
    columns["is_in_collection"] = raw["is_in_collection"].astype(float)
    columns["log_director_prior_median_revenue_usd"] = _log10(
        raw["director_prior_median_revenue_usd"]
    )
    columns["log_cast_prior_median_revenue_usd"] = _log10(raw["cast_prior_median_revenue_usd"])
    for column in CATEGORICAL_INPUTS:
        columns[column] = raw[column].astype(object).where(raw[column].notna(), None)
    genres = [set(_as_list(names)) for names in raw["genre_names"]]
    for genre in vocabulary.genres:
        columns[f"genre:{genre}"] = [float(genre in names) for names in genres]
    companies = [set(_as_list(names)) for names in raw["production_company_names"]]
    for company in vocabulary.companies:
        columns[f"company:{company}"] = [float(company in names) for names in companies]
    inputs = pd.DataFrame(
        {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in columns.items()},
        index=raw.index,
    )
    return inputs


def factor_columns(inputs: pd.DataFrame) -> dict[str, list[str]]:
    """Input columns per explanation factor (wildcards expanded)."""
    groups: dict[str, list[str]] = {}
    for factor, patterns in FACTOR_GROUPS.items():
        columns = []
        for pattern in patterns:
            if pattern.endswith("*"):
                columns += [c for c in inputs.columns if c.startswith(pattern[:-1])]
            elif pattern in inputs.columns:
                columns.append(pattern)
        groups[factor] = columns
    return groups


# --- rows from the warehouse -------------------------------------------------------------------


def load_feature_rows(conn: Connection, movie_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Rows of `marts.ml_movie_features` (all, or the given movies), label included."""
    columns = ", ".join([*RAW_COLUMNS, LABEL])
    query = f"select {columns} from marts.ml_movie_features"
    params: tuple = ()
    if movie_ids is not None:
        query += " where movie_id = any(%s)"
        params = (list(movie_ids),)
    with conn.cursor() as cur:
        cur.execute(query + " order by movie_id", params)
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=[*RAW_COLUMNS, LABEL])


# --- rows from a pre-release description -------------------------------------------------------

_RESOLVE_PEOPLE = """
with candidates as (
    select
        lower(people.name) as wanted_name,
        people.person_id,
        filmography.credit_role,
        count(*) as film_count
    from marts.dim_people as people
    inner join marts.ml_person_filmography as filmography
        on people.person_id = filmography.person_id
    where lower(people.name) = any(%(names)s)
    group by lower(people.name), people.person_id, filmography.credit_role
),
ranked as (
    select
        *,
        row_number() over (
            partition by wanted_name, credit_role order by film_count desc, person_id
        ) as pick
    from candidates
)
select wanted_name, credit_role, person_id from ranked where pick = 1
"""

_TRACK_RECORDS = """
with wanted as (
    select *
    from unnest(%(slots)s::int[], %(people)s::bigint[], %(roles)s::text[], %(dates)s::date[])
        as wanted (slot, person_id, credit_role, as_of)
)
select
    wanted.slot,
    count(earlier.movie_id) as prior_film_count,
    (avg(case when earlier.is_commercial_success then 1.0 else 0.0 end)
        filter (where earlier.is_commercial_success is not null))::double precision
        as prior_success_rate,
    percentile_cont(0.5) within group (order by earlier.reliable_revenue_usd)
        as prior_median_revenue_usd
from wanted
left join marts.ml_person_filmography as earlier
    on earlier.person_id = wanted.person_id
    and earlier.credit_role = wanted.credit_role
    and earlier.release_date < wanted.as_of
group by wanted.slot
"""


def _season(month: int) -> str:
    return {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
            6: "summer", 7: "summer", 8: "summer"}.get(month, "autumn")  # fmt: skip


def ordered_mean(values: Sequence[float | None]) -> float | None:
    """The mean of the known values, summed one by one in ascending order, as PostgreSQL's
    `avg(x order by x)` in `ml_movie_features` sums them.

    A floating-point sum depends on its order: numpy's pairwise mean of the same three track
    records can differ from the warehouse's in the last bit, and a value that sits on one of
    the model's split thresholds then lands on the other side of it. Summing in one fixed order
    makes both paths give the same bits.
    """
    known = sorted(float(v) for v in values if v is not None)
    if not known:
        return None
    total = 0.0
    for value in known:
        total += value
    return total / len(known)


def raw_rows_for_descriptions(
    conn: Connection, descriptions: Sequence[MovieDescription], reliable_budget_usd: int
) -> pd.DataFrame:
    """The `ml_movie_features` columns for movies described before release."""
    names = {
        name.strip().lower()
        for d in descriptions
        for name in [d.director or "", *d.top_cast]
        if name and name.strip()
    }
    resolved: dict[tuple[str, str], int] = {}
    if names:
        with conn.cursor() as cur:
            cur.execute(_RESOLVE_PEOPLE, {"names": sorted(names)})
            resolved = {(name, role): person for name, role, person in cur.fetchall()}

    # One slot per credited person that the warehouse knows; an unknown name is a newcomer
    # (no earlier films), just as a debut is in the catalogue.
    credited = [
        [("director", d.director)] * bool(d.director) + [("cast", n) for n in _top_cast(d)]
        for d in descriptions
    ]
    slots: dict[tuple[int, int], tuple[int, str, date]] = {}
    for index, (d, people) in enumerate(zip(descriptions, credited, strict=True)):
        for position, (role, name) in enumerate(people):
            person = resolved.get((name.strip().lower(), role))
            if person is not None:
                slots[(index, position)] = (person, role, d.release_date)
    records: dict[tuple[int, int], tuple] = {}
    if slots:
        keys = list(slots)
        with conn.cursor() as cur:
            cur.execute(
                _TRACK_RECORDS,
                {
                    "slots": list(range(len(keys))),
                    "people": [slots[k][0] for k in keys],
                    "roles": [slots[k][1] for k in keys],
                    "dates": [slots[k][2] for k in keys],
                },
            )
            by_slot = {row[0]: tuple(row[1:]) for row in cur.fetchall()}
        records = {key: by_slot[i] for i, key in enumerate(keys)}

    newcomer = (0, None, None)
    rows = []
    for index, (d, people) in enumerate(zip(descriptions, credited, strict=True)):
        found: dict[str, list[tuple]] = {"director": [], "cast": []}
        for position, (role, _) in enumerate(people):
            found[role].append(records.get((index, position), newcomer))
        rows.append(_raw_row(d, found, reliable_budget_usd))
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def _top_cast(description: MovieDescription, size: int = 3) -> list[str]:
    seen: list[str] = []
    for name in description.top_cast:
        if name and name.strip() and name.strip().lower() not in {s.lower() for s in seen}:
            seen.append(name.strip())
    return seen[:size]


def _raw_row(d: MovieDescription, found: dict[str, list[tuple]], reliable_budget: int) -> dict:
    when = d.release_date
    genres = list(dict.fromkeys(g for g in d.genres if g))
    companies = list(dict.fromkeys(c for c in d.production_companies if c))
    director = found["director"][0] if found["director"] else (None, None, None)
    cast = found["cast"]
    return {
        "movie_id": None,
        "release_date": when,
        "release_year": when.year,
        "release_month": when.month,
        "release_quarter": (when.month - 1) // 3 + 1,
        "release_day_of_week": when.isoweekday(),
        "release_season": _season(when.month),
        "budget_usd": d.budget_usd if d.budget_usd and d.budget_usd >= reliable_budget else None,
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
        "director_prior_film_count": director[0],
        "director_prior_success_rate": director[1],
        "director_prior_median_revenue_usd": director[2],
        "top_cast_count": len(cast),
        "cast_prior_film_count": ordered_mean([float(c[0]) for c in cast]) if cast else None,
        "cast_prior_success_rate": ordered_mean([c[1] for c in cast]),
        "cast_prior_median_revenue_usd": ordered_mean([c[2] for c in cast]),
    }
