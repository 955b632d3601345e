"""The SQL that gives a pre-release description its `ml_movie_features` columns.

It is built from the dbt macros the mart is built from (`dbt_project/macros/ml_feature_rules.sql`),
rendered here with plain Jinja: release timing, the reliable budget, each person's track record
as of the release date and the director's and top cast's columns come from the same SQL text on
both paths, so a catalogued movie described before release gets its catalogued features bit for
bit (means included: both sum in the same order, in PostgreSQL).

What remains in Python is only what has no counterpart in the mart, because a description is
not shaped like catalogue rows: looking names up (`_RESOLVED`), and tidying the lists it brings
(`ml.features.description_lists`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.dbt_runner import project_vars
from warehouse.settings import Settings

MACRO_FILE = Path("dbt_project") / "macros" / "ml_feature_rules.sql"

# Names looked up as people: per name and role, the person with the most films in that role
# (a name shared by several people is taken to mean the best-known one).
_RESOLVED = """
candidates as (
    select
        credited.slot,
        credited.billing_rank,
        people.person_id,
        count(*) as film_count
    from credited
    inner join marts.dim_people as people
        on lower(people.name) = credited.wanted_name
        and credited.wanted_name <> ''
    inner join marts.ml_person_filmography as filmography
        on people.person_id = filmography.person_id
        and filmography.credit_role = credited.credit_role
    group by credited.slot, credited.billing_rank, people.person_id
),
resolved as (
    select
        slot,
        billing_rank,
        person_id,
        row_number() over (
            partition by slot, billing_rank order by film_count desc, person_id
        ) as pick
    from candidates
)"""

_DESCRIPTIONS = """
with
described as (
    select *
    from unnest(
        %(slot)s::integer[], %(release_date)s::date[], %(budget_usd)s::bigint[]
    ) as described (slot, release_date, budget_usd)
),
credited as (
    select *
    from unnest(
        %(credit_slot)s::integer[], %(credit_rank)s::integer[], %(credit_name)s::text[],
        %(credit_role)s::text[]
    ) as credited (slot, billing_rank, wanted_name, credit_role)
),
{resolved},
track_records as (
    -- an unknown name is a newcomer: no earlier films, as a debut is in the catalogue
    select
        credited.slot as movie_id,
        credited.credit_role,
        {track_record}
    from credited
    inner join described
        on credited.slot = described.slot
    left join resolved
        on credited.slot = resolved.slot
        and credited.billing_rank = resolved.billing_rank
        and resolved.pick = 1
    left join marts.ml_person_filmography as earlier
        on resolved.person_id = earlier.person_id
        and credited.credit_role = earlier.credit_role
        and described.release_date > earlier.release_date
    group by credited.slot, credited.billing_rank, credited.credit_role
),
director_records as (
    select
        track_records.movie_id,
        {director_record}
    from track_records
    where track_records.credit_role = 'director'
),
cast_records as (
    select
        track_records.movie_id,
        {cast_record}
    from track_records
    where track_records.credit_role = 'cast'
    group by track_records.movie_id
)
select
    described.slot,
    described.release_date,
    {release_timing},
    {reliable_budget} as budget_usd,
    director_records.director_prior_film_count,
    director_records.director_prior_success_rate,
    director_records.director_prior_median_revenue_usd,
    coalesce(cast_records.top_cast_count, 0) as top_cast_count,
    cast_records.cast_prior_film_count,
    cast_records.cast_prior_success_rate,
    cast_records.cast_prior_median_revenue_usd
from described
left join director_records
    on described.slot = director_records.movie_id
left join cast_records
    on described.slot = cast_records.movie_id
order by described.slot
"""


@dataclass(frozen=True)
class DescriptionRules:
    """What a description needs from one dbt project: the query built from its macros and vars,
    and how many top-billed actors its mart counts. Built from the project that `Settings`
    names, so the served path follows the project the mart was built from."""

    query: str
    top_cast_size: int


def _var(variables: dict[str, Any], name: str, default: Any = None) -> Any:
    """dbt's `var()`: the project's value, else the default given, else an error, as in dbt."""
    if name in variables:
        return variables[name]
    if default is None:
        raise KeyError(f"dbt var {name!r} is not set")
    return default


def feature_rules(variables: dict[str, Any], root: Path) -> Any:
    """The macros of `ml_feature_rules.sql` in the dbt project at `root`, callable from Python
    with `var()` bound to `variables`: `feature_rules(v, root).ml_release_timing("d.date")`."""
    import jinja2

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)

    def var(name: str, default: Any = None) -> Any:
        return _var(variables, name, default)

    template = environment.from_string(
        (root / MACRO_FILE).read_text(encoding="utf-8"), globals={"var": var}
    )
    return template.module


def description_rules(settings: Settings) -> DescriptionRules:
    """The rules of the dbt project at `settings.dbt_project_dir`, read when called: the API
    builds them once at start-up (`api.state`), so an edited project takes a restart."""
    variables = project_vars(settings)
    rules = feature_rules(variables, settings.dbt_project_dir)
    query = _DESCRIPTIONS.format(
        resolved=_RESOLVED.strip(),
        track_record=rules.ml_track_record("earlier"),
        director_record=rules.ml_director_record("track_records"),
        cast_record=rules.ml_cast_record("track_records"),
        release_timing=rules.ml_release_timing("described.release_date"),
        reliable_budget=rules.ml_reliable_budget("described.budget_usd"),
    )
    return DescriptionRules(query=query, top_cast_size=int(_var(variables, "top_cast_size")))
