"""A metric query: what it may say, how it is checked, and how MetricFlow compiles it.

One request shape for every caller (`tmdb metrics query`, `POST /metrics/query`, the `/ask`
model's `metric_query`, MCP). Names are checked against the catalog first, so a misspelt metric
or dimension is answered with the closest valid names rather than MetricFlow's internals. A
`where` string may only be a condition over `{{ Dimension('...') }}` / `{{ TimeDimension(...) }}`
references: no subqueries, statements, comments or functions outside the guard's list, so it
cannot smuggle SQL into the compiled query (which passes the guard afterwards anyway).

Genre: a movie metric grouped or filtered by `genre__genre_name` is answered by its
`_per_genre` twin, and the twin's columns are renamed back to the metric's name, so a movie
counts in each of its genres when split by genre and exactly once otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlglot import exp

from api.semantic.catalog import Catalog, closest
from api.text_to_sql.guard import UnsafeSql, check_sql

MAX_ITEMS = 10
MAX_WHERE_CHARS = 1_000

# `{{ Dimension('movie__director_name') }}`, `{{ TimeDimension('metric_time', 'year') }}`.
REFERENCE = re.compile(
    r"\{\{\s*(?P<kind>Dimension|TimeDimension)\(\s*'(?P<name>[a-z0-9_]+)'"
    r"(?:\s*,\s*'(?P<grain>[a-z]+)')?\s*\)\s*\}\}"
)


# `{{ Dimension('genre__genre_name') }} = 'Drama'`: one value of one dimension.
_ONE_VALUE = re.compile(
    r"^\s*\{\{\s*Dimension\(\s*'[a-z0-9_]+'\s*\)\s*\}\}\s*=\s*'(?:[^']|'')*'\s*$"
)


class InvalidMetricQuery(ValueError):
    """The query names something that does not exist, or says something not allowed."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


def _as_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class MetricQuery(BaseModel):
    """`{metrics, group_by?, where?, order_by?, limit?}` (CONTRACT §6)."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(min_length=1, max_length=MAX_ITEMS, description="Metric names.")
    group_by: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Dimension names, time ones with an optional grain (metric_time__year).",
    )
    where: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="MetricFlow filters: {{ Dimension('movie__director_name') }} = 'X'.",
    )
    order_by: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Metric or group-by names; a leading '-' sorts descending.",
    )
    limit: int | None = Field(default=None, ge=1, le=100_000)

    @field_validator("metrics", "group_by", "order_by", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _as_list(value)

    @field_validator("where", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if value is None or value == "":
            return []
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True)
class Resolved:
    """A query in MetricFlow's terms: twins chosen, `renames` maps them back."""

    metrics: list[str]
    group_by: list[str]
    where: list[str]
    order_by: list[str]
    renames: dict[str, str]


def _check_names(query: MetricQuery, catalog: Catalog) -> None:
    for name in query.metrics:
        if name not in catalog.metrics:
            raise InvalidMetricQuery(
                f"unknown metric {name!r}", closest(name, list(catalog.metrics))
            )
    group_bys = catalog.group_by_names()
    for name in query.group_by:
        if name not in group_bys:
            raise InvalidMetricQuery(f"unknown dimension {name!r}", closest(name, group_bys))
    allowed = set(query.metrics) | set(query.group_by)
    for item in query.order_by:
        name = item.removeprefix("-")
        if name not in allowed:
            raise InvalidMetricQuery(
                f"order_by {name!r} is neither a queried metric nor a group-by",
                closest(name, sorted(allowed)),
            )


def where_dimensions(condition: str, catalog: Catalog) -> list[str]:
    """The dimensions a `where` string refers to, after checking it is a plain condition."""
    if len(condition) > MAX_WHERE_CHARS:
        raise InvalidMetricQuery(f"a where filter is at most {MAX_WHERE_CHARS} characters")
    names: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        names.append(match["name"])
        return f'"{match["name"]}"'

    plain = REFERENCE.sub(placeholder, condition)
    if "{" in plain or "}" in plain:
        raise InvalidMetricQuery(
            "a where filter may only refer to dimensions as {{ Dimension('name') }} or"
            " {{ TimeDimension('name', 'grain') }}"
        )
    if not names:
        raise InvalidMetricQuery("a where filter must refer to at least one dimension")
    if ";" in plain or "--" in plain or "/*" in plain:
        raise InvalidMetricQuery("a where filter may not contain ';' or comments")
    for name in names:
        if name not in catalog.dimensions:
            raise InvalidMetricQuery(
                f"unknown dimension {name!r} in where", closest(name, list(catalog.dimensions))
            )
    try:
        # The guard checks functions, casts and statements; a filter must also stay one
        # condition over the row (no subquery, no second statement).
        checked = check_sql(
            f"select 1 from marts.dim_movies where {plain}", allowed_tables=["dim_movies"], limit=1
        )
        tree = sqlglot.parse_one(checked.sql, read="postgres")
    except (UnsafeSql, sqlglot.errors.ParseError) as exc:
        raise InvalidMetricQuery(f"the where filter is not allowed: {exc}") from None
    where = tree.args.get("where")
    if where is None or tree.find(exp.Subquery, exp.Union) or list(where.find_all(exp.Select)):
        raise InvalidMetricQuery("a where filter must be a single condition, without subqueries")
    return names


def _check_counted_once(
    twin_only: set[str], grouped: set[str], filters: dict[str, set[str]]
) -> None:
    """Filtered by genre but not split by it, the twin counts a movie once per matching genre:
    right for one genre ("dramas"), wrong for several ("dramas or comedies" would count a
    drama-comedy twice) or an exclusion ("not dramas" would keep it for its comedy). So those
    are refused with what to do instead, never answered with a miscount."""
    if twin_only & grouped:
        return
    conditions = [c for c, names in filters.items() if names & twin_only]
    if len(conditions) == 1 and _ONE_VALUE.match(conditions[0]):
        return
    dims = ", ".join(sorted(twin_only))
    raise InvalidMetricQuery(
        f"filtering by {dims} without grouping by it may count a movie once per matching value:"
        f" filter on one value ({{{{ Dimension('{sorted(twin_only)[0]}') }}}} = '...'), or group"
        f" by {dims} to see each",
        sorted(twin_only),
    )


def resolve(query: MetricQuery, catalog: Catalog) -> Resolved:
    """Check the names, then pick each metric or its genre twin so the dimensions are reachable."""
    _check_names(query, catalog)
    grouped = {catalog.dimension_of(g) for g in query.group_by}
    filters = {condition: set(where_dimensions(condition, catalog)) for condition in query.where}
    wanted = grouped.union(*filters.values())
    renames: dict[str, str] = {}
    chosen: list[str] = []
    for name in query.metrics:
        info = catalog.metrics[name]
        if wanted <= catalog.base_dimensions[name]:
            chosen.append(name)
        elif info.twin is not None and wanted <= catalog.base_dimensions[info.twin]:
            _check_counted_once(wanted - catalog.base_dimensions[name], grouped, filters)
            chosen.append(info.twin)
            renames[info.twin] = name
        else:
            missing = sorted(wanted - set(info.dimensions))
            raise InvalidMetricQuery(
                f"metric {name!r} cannot be grouped or filtered by {', '.join(missing)}",
                list(info.dimensions)[:8],
            )
    twin_of = {base: twin for twin, base in renames.items()}
    order_by = []
    for item in query.order_by:
        sign, name = ("-", item[1:]) if item.startswith("-") else ("", item)
        order_by.append(sign + twin_of.get(name, name))
    if not order_by:  # a series reads in time order unless the caller asked for another
        order_by = [
            g
            for g in query.group_by
            if getattr(catalog.dimensions.get(catalog.dimension_of(g)), "type", "") == "time"
        ]
    return Resolved(chosen, list(query.group_by), list(query.where), order_by, renames)


def rename_outputs(sql: str, renames: dict[str, str], *, nulls_last: bool = False) -> str:
    """Give a twin's output column (and its ORDER BY) the base metric's name; with
    `nulls_last`, a descending order puts unknown values last (PostgreSQL puts them first,
    so "the highest" would otherwise be a row with no value at all)."""
    if not renames and not nulls_last:
        return sql
    tree = sqlglot.parse_one(sql, read="postgres")
    if nulls_last:
        for ordered in tree.find_all(exp.Ordered):
            if ordered.args.get("desc"):
                ordered.set("nulls_first", False)
    for projection in tree.expressions:
        if isinstance(projection, exp.Alias) and projection.alias in renames:
            projection.set("alias", exp.to_identifier(renames[projection.alias]))
    order = tree.args.get("order")
    if order is not None:
        for column in order.find_all(exp.Column):
            if not column.table and column.name in renames:
                column.set("this", exp.to_identifier(renames[column.name]))
    return tree.sql(dialect="postgres")
