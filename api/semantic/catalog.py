"""What the semantic layer offers, as users and the language model see it.

Read from the semantic manifest: every metric's label, description and synonyms (`meta`), and
every dimension a metric can be grouped or filtered by. A metric's `<name>_per_genre` twin
(meta `genre_twin_of`) is not listed: it answers its base metric by genre, chosen for the
caller in `api.semantic.query`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TIME_GRAINS = ("day", "week", "month", "quarter", "year")
METRIC_TIME = "metric_time"
# The movie entity as a group-by: one row per movie (its id), so a ranking or a list of movies
# keeps two films of one title apart. Reachable by every metric that reaches `movie__title`.
MOVIE = "movie"
MOVIE_TITLE = "movie__title"
MOVIE_YEAR = "movie__release_year"
TWIN_OF = "genre_twin_of"
TWIN = "per_genre"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    description: str
    type: str
    synonyms: tuple[str, ...]
    dimensions: tuple[str, ...]  # what it groups and filters by (genre through its twin)
    twin: str | None = None  # the metric that answers it by genre
    # The metric it counts in place of where that one cannot go (meta `stands_for`): an
    # actor's "movies" are their cast appearances.
    stands_for: str | None = None
    numerator: str | None = None  # a ratio's numerator metric ("share of …" names the ratio)
    counts: str | None = None  # the dimension whose distinct values it counts (meta `counts`)


@dataclass(frozen=True)
class DimensionInfo:
    name: str
    label: str
    description: str
    type: str  # categorical | time | entity (the movie)
    synonyms: tuple[str, ...] = ()
    # Other names of its values ("sci-fi" → Science Fiction), from meta `value_synonyms`.
    value_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    calendar: str | None = None  # meta `calendar`: year | decade | quarter | month of the release
    per_movie: str | None = None  # meta `per_movie`: the metric that, per movie, is this figure
    unit: str | None = None  # meta `unit` of a figure: usd | minutes | rating | count | ratio…
    # meta `superlatives`: {desc: [longest…], asc: [shortest…]}, a figure ranked in one word
    superlatives: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SavedQueryInfo:
    """A saved query of the dbt project, as the metric query (CONTRACT §6) it stands for."""

    name: str
    label: str
    description: str  # the verified question it answers, word for word
    params: dict[str, Any]  # MetricQuery fields, with base metric names


@dataclass(frozen=True)
class Catalog:
    metrics: dict[str, MetricInfo]
    dimensions: dict[str, DimensionInfo]
    # Every metric's own dimensions, twins included: what MetricFlow can join to it.
    base_dimensions: dict[str, frozenset[str]] = field(default_factory=dict)
    saved_queries: dict[str, SavedQueryInfo] = field(default_factory=dict)

    def group_by_names(self) -> list[str]:
        """Every name `group_by` accepts: dimensions, and time dimensions at each grain."""
        names: list[str] = []
        for dimension in self.dimensions.values():
            names.append(dimension.name)
            if dimension.type == "time":
                names.extend(f"{dimension.name}__{grain}" for grain in TIME_GRAINS)
        return names

    @staticmethod
    def dimension_of(group_by: str) -> str:
        """`metric_time__year` → `metric_time`; other names unchanged."""
        head, _, grain = group_by.rpartition("__")
        return head if grain in TIME_GRAINS and head else group_by


def _meta(element: dict[str, Any]) -> dict[str, Any]:
    return ((element.get("config") or {}).get("meta")) or {}


def _numerator(metric: dict[str, Any]) -> str | None:
    if metric.get("type") != "ratio":
        return None
    numerator = (metric.get("type_params") or {}).get("numerator")
    return numerator.get("name") if isinstance(numerator, dict) else numerator


def _synonyms(element: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(s) for s in _meta(element).get("synonyms", []) or [])


def build(engine: Any, raw: dict[str, Any]) -> Catalog:
    """The catalog of one manifest (`engine` is its MetricFlow engine)."""
    raw_dims: dict[str, dict[str, Any]] = {}
    internal: set[str] = set()  # a twin model's own dimensions repeat its base model's
    for model in raw.get("semantic_models", []):
        primary = next((e["name"] for e in model.get("entities", []) if e["type"] == "primary"), "")
        for dim in model.get("dimensions", []):
            raw_dims[f"{primary}__{dim['name']}"] = dim
            if TWIN_OF in _meta(model):
                internal.add(f"{primary}__{dim['name']}")

    dimensions: dict[str, DimensionInfo] = {
        METRIC_TIME: DimensionInfo(
            METRIC_TIME,
            "Time",
            "The metric's time axis: a movie's release date for movie metrics (the observation"
            " date for observed popularity, the scoring date for predictions). Add a grain:"
            " metric_time__year, __quarter, __month, __week or __day.",
            "time",
            ("year", "when", "over time", "release year", "per year", "by month"),
        )
    }
    for dim in engine.list_dimensions():
        if dim.dunder_name in internal:
            continue
        source = raw_dims.get(dim.dunder_name, {})
        dimensions[dim.dunder_name] = DimensionInfo(
            name=dim.dunder_name,
            label=dim.label or dim.name.replace("_", " ").capitalize(),
            description=dim.description or "",
            type="time" if dim.type.value == "time" else "categorical",
            synonyms=_synonyms(source),
            value_synonyms={
                str(value): tuple(str(n) for n in names or [])
                for value, names in (_meta(source).get("value_synonyms") or {}).items()
            },
            calendar=_meta(source).get("calendar"),
            per_movie=_meta(source).get("per_movie"),
            unit=_meta(source).get("unit"),
            superlatives={
                str(k): tuple(str(w) for w in v or [])
                for k, v in (_meta(source).get("superlatives") or {}).items()
            },
        )
    if MOVIE_TITLE in dimensions:
        dimensions[MOVIE] = DimensionInfo(
            MOVIE,
            "Movie",
            "One movie (its TMDB id). Group by it, with movie__title and movie__release_year, to"
            " list or rank movies: two films of one title stay apart.",
            "entity",
        )

    raw_metrics = {m["name"]: m for m in raw.get("metrics", [])}
    twins = {name for name, m in raw_metrics.items() if TWIN_OF in _meta(m)}
    base_dimensions = {
        name: _with_entity(frozenset(d.dunder_name for d in engine.list_dimensions([name])))
        for name in raw_metrics
    }
    metrics: dict[str, MetricInfo] = {}
    for name, metric in raw_metrics.items():
        if name in twins:
            continue
        twin = _meta(metric).get(TWIN)
        twin = twin if twin in raw_metrics else None
        reach = base_dimensions[name] | (base_dimensions[twin] if twin else frozenset())
        metrics[name] = MetricInfo(
            name=name,
            label=metric.get("label") or name,
            description=metric.get("description") or "",
            type=str(metric.get("type", "simple")),
            synonyms=_synonyms(metric),
            dimensions=tuple(sorted(d for d in reach if d in dimensions)),
            twin=twin,
            stands_for=_meta(metric).get("stands_for"),
            numerator=_numerator(metric),
            counts=_meta(metric).get("counts"),
        )
    return Catalog(dict(sorted(metrics.items())), dimensions, base_dimensions, saved_queries(raw))


def _with_entity(dimensions: frozenset[str]) -> frozenset[str]:
    """A metric's dimensions, with time and, where it reaches a movie's title, the movie."""
    return dimensions | {METRIC_TIME} | ({MOVIE} if MOVIE_TITLE in dimensions else set())


def saved_queries(raw: dict[str, Any]) -> dict[str, SavedQueryInfo]:
    """The saved queries of a semantic manifest (its JSON), by name; needs no engine."""
    base_of = {m["name"]: _meta(m)[TWIN_OF] for m in raw.get("metrics", []) if TWIN_OF in _meta(m)}
    return {q["name"]: _saved_query(q, base_of) for q in raw.get("saved_queries", [])}


_OBJECT = re.compile(
    r"^(?:Dimension|TimeDimension|Metric|Entity)\(\s*'([a-z0-9_]+)'\s*(?:,\s*'([a-z]+)'\s*)?\)"
    r"(\.descending\(\s*True\s*\))?$",
    re.IGNORECASE,
)


def _object_name(text: str, base_of: dict[str, str]) -> str:
    """`TimeDimension('metric_time', 'year')` → `metric_time__year`; a descending `Metric(…)`
    → `-name`; a twin metric → its base metric (the query routes back to the twin)."""
    match = _OBJECT.match(text.strip())
    if match is None:
        raise ValueError(f"unsupported saved-query item {text!r}")
    name, grain, descending = match.groups()
    name = base_of.get(name, name)
    return ("-" if descending else "") + (f"{name}__{grain}" if grain else name)


def _saved_query(raw: dict[str, Any], base_of: dict[str, str]) -> SavedQueryInfo:
    params = raw.get("query_params") or {}
    filters = (params.get("where") or {}).get("where_filters") or []
    return SavedQueryInfo(
        name=raw["name"],
        label=raw.get("label") or raw["name"],
        description=raw.get("description") or "",
        params={
            "metrics": list(dict.fromkeys(base_of.get(m, m) for m in params.get("metrics", []))),
            "group_by": [_object_name(g, base_of) for g in params.get("group_by", [])],
            "where": [f["where_sql_template"] for f in filters],
            "order_by": [_object_name(o, base_of) for o in params.get("order_by", [])],
            "limit": params.get("limit"),
        },
    )


def closest(name: str, choices: list[str], limit: int = 3) -> list[str]:
    """The valid names nearest to a misspelt one, best first."""
    from rapidfuzz import fuzz, process

    found = process.extract(
        name,
        choices,
        scorer=fuzz.token_set_ratio,
        processor=_words,
        limit=limit,
        score_cutoff=50,
    )
    return [choice for choice, _, _ in found]


def _words(name: str) -> str:
    """`total_revenue_usd` → `total revenue usd`, so word order and separators do not matter."""
    return name.replace("__", " ").replace("_", " ").lower()
