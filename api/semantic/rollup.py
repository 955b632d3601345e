"""Rollups: a metric query answered from a few thousand summed rows instead of every movie.

A semantic model whose meta `rollup` names a model (`agg_movies_by_year`) has that model built
by `macros/semantic_rollup.sql`: its additive measures summed by release year and by the
dimensions the meta lists. Here the same semantic manifest is rewritten to read the rollup, and
MetricFlow compiles the query against that rewrite, so the SQL is still MetricFlow's own and each
metric is still defined once:

- a count or a sum becomes the sum of its cells;
- an average becomes the ratio of its `__sum` and `__count` cells;
- a ratio of such metrics stays the same ratio;
- medians, distinct counts, filtered metrics and everything else are left out.

A query goes to the rollup only when every part of it is there: its metrics, each group-by (a
listed dimension, or the time dimension at the year, the rollup's grain) and each `where`
reference. Anything else, or anything MetricFlow cannot place on the rewrite, is compiled
against the semantic model itself, so a rollup never answers a different question. Entities are
never a group-by here: a rollup row is not a movie. `tests/semantic/test_rollup.py` holds the
answers of both to each other; the `rolls_up` dbt test holds each rollup to its model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from api.semantic.query import REFERENCE, Resolved

ROLLUP_META = "rollup"
GRAIN = "year"
ADDITIVE = ("count", "sum")
AVERAGE = "average"
SUM, COUNT = "__sum", "__count"


@dataclass(frozen=True)
class Rollups:
    """The rewritten manifest's engine and what it may answer."""

    engine: Any  # metricflow.engine.metricflow_engine.MetricFlowEngine over the rewrite
    metrics: frozenset[str]
    categorical: frozenset[str]  # group-by and Dimension() names
    time: frozenset[str]  # time dimensions, answered at the year only
    tables: frozenset[str]  # the rollups
    sources: frozenset[str]  # the tables they sum

    def answers(self, resolved: Resolved) -> bool:
        """Whether every metric, group-by and filter of the query is in a rollup."""
        if not set(resolved.metrics) <= self.metrics:
            return False
        for name in resolved.group_by:
            if name not in self.categorical and not (
                name.endswith(f"__{GRAIN}") and name.removesuffix(f"__{GRAIN}") in self.time
            ):
                return False
        return all(self._filter_answered(condition) for condition in resolved.where)

    def _filter_answered(self, condition: str) -> bool:
        """`resolve` has checked that the condition refers to dimensions only through
        `REFERENCE`; each reference must be in a rollup."""
        for match in REFERENCE.finditer(condition):
            if match["kind"] == "Dimension":
                if match["grain"] or match["name"] not in self.categorical:
                    return False
            elif match["grain"] != GRAIN or match["name"] not in self.time:
                return False
        return True


def _spec(model: dict[str, Any]) -> dict[str, Any] | None:
    """The semantic model's meta `rollup`: {model, dimensions, entities?}."""
    return ((model.get("config") or {}).get("meta") or {}).get(ROLLUP_META)


def _relation(node_relation: dict[str, Any], alias: str) -> dict[str, Any]:
    schema = node_relation.get("schema_name")
    return {**node_relation, "alias": alias, "relation_name": f'"{schema}"."{alias}"'}


def _primary_entity(model: dict[str, Any]) -> str | None:
    for entity in model.get("entities", []):
        if entity.get("type") == "primary":
            return entity["name"]
    return model.get("primary_entity")


def _rolled_measures(model: dict[str, Any]) -> dict[str, str]:
    """The measures with cells, by name: their aggregation (the macro's rule)."""
    time = (model.get("defaults") or {}).get("agg_time_dimension")
    return {
        measure["name"]: measure["agg"]
        for measure in model.get("measures", [])
        if measure["agg"] in (*ADDITIVE, AVERAGE)
        and not measure.get("non_additive_dimension")
        and measure.get("agg_time_dimension") in (None, time)
    }


def _measure(name: str) -> dict[str, Any]:
    return {"name": name, "agg": "sum", "expr": name, "create_metric": False}


def _rollup_model(model: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The semantic model, reading its rollup: the same names over the rollup's columns."""
    rolled = copy.deepcopy(model)
    time = (model.get("defaults") or {}).get("agg_time_dimension")
    keep_entities = set(spec.get("entities", []))
    keep_dimensions = set(spec.get("dimensions", []))
    rolled["node_relation"] = _relation(model["node_relation"], spec["model"])
    entities = []
    for entity in model.get("entities", []):
        if entity.get("type") == "primary":
            # Kept for the names (`movie__primary_genre`); never a group-by (see `answers`).
            entities.append({**entity, "expr": "null"})
        elif entity["name"] in keep_entities:
            entities.append({**entity, "expr": entity["name"]})
    rolled["entities"] = entities
    dimensions = []
    for dimension in model.get("dimensions", []):
        if dimension["name"] == time:
            params = {**(dimension.get("type_params") or {}), "time_granularity": GRAIN}
            dimensions.append({**dimension, "expr": dimension["name"], "type_params": params})
        elif dimension["name"] in keep_dimensions and dimension.get("type") == "categorical":
            dimensions.append({**dimension, "expr": dimension["name"]})
    rolled["dimensions"] = dimensions
    measures = []
    for name, agg in _rolled_measures(model).items():
        if agg == AVERAGE:
            measures += [_measure(name + SUM), _measure(name + COUNT)]
        else:
            measures.append(_measure(name))
    rolled["measures"] = measures
    return rolled


def _input(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "filter": None,
        "alias": None,
        "join_to_timespine": False,
        "fill_nulls_with": None,
    }


def _simple(name: str, measure: str, template: dict[str, Any]) -> dict[str, Any]:
    metric = copy.deepcopy(template)
    metric.update(name=name, type="simple", filter=None)
    metric["type_params"] = {
        **template["type_params"],
        "measure": _input(measure),
        "input_measures": [_input(measure)],
        "numerator": None,
        "denominator": None,
        "metrics": [],
    }
    return metric


def _ratio(name: str, measures: tuple[str, str], template: dict[str, Any]) -> dict[str, Any]:
    """`name` as the ratio of its hidden `__sum` and `__count` metrics over `measures`."""
    metric = copy.deepcopy(template)
    metric.update(name=name, type="ratio", filter=None)
    metric["type_params"] = {
        **template["type_params"],
        "measure": None,
        "numerator": {"name": name + SUM, "filter": None, "alias": None},
        "denominator": {"name": name + COUNT, "filter": None, "alias": None},
        "input_measures": [_input(measure) for measure in measures],
        "metrics": [],
    }
    return metric


def _plain_input(reference: dict[str, Any] | None) -> bool:
    return bool(reference) and not any(
        reference.get(key) for key in ("filter", "offset_window", "offset_to_grain")
    )


def _rollup_metrics(raw: dict[str, Any], measures: dict[str, str]) -> list[dict[str, Any]]:
    """The metrics a rollup answers, rewritten: additive ones as they are, averages as ratios,
    ratios of additive ones as they are."""
    metrics: list[dict[str, Any]] = []
    additive: set[str] = set()
    for metric in raw.get("metrics", []):
        params = metric.get("type_params") or {}
        measure = (params.get("measure") or {}).get("name")
        plain = not metric.get("filter") and _plain_input(params.get("measure"))
        if metric.get("type") != "simple" or not plain or measure not in measures:
            continue
        if any(
            m.get("join_to_timespine") or m.get("fill_nulls_with") is not None
            for m in params.get("input_measures", [])
        ):
            continue
        if measures[measure] == AVERAGE:
            name = metric["name"]
            metrics += [
                _simple(name + SUM, measure + SUM, metric),
                _simple(name + COUNT, measure + COUNT, metric),
            ]
            metrics.append(_ratio(name, (measure + SUM, measure + COUNT), metric))
        else:
            metrics.append(copy.deepcopy(metric))
            additive.add(metric["name"])
    for metric in raw.get("metrics", []):
        params = metric.get("type_params") or {}
        if metric.get("type") != "ratio" or metric.get("filter"):
            continue
        numerator, denominator = params.get("numerator"), params.get("denominator")
        if (
            _plain_input(numerator)
            and _plain_input(denominator)
            and {numerator["name"], denominator["name"]} <= additive
        ):
            metrics.append(copy.deepcopy(metric))
    return metrics


def rewrite(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The semantic manifest over the rollups (None when no semantic model has one)."""
    models = raw.get("semantic_models", [])
    specs = {m["name"]: _spec(m) for m in models}
    rolled_models = [_rollup_model(m, specs[m["name"]]) for m in models if specs[m["name"]]]
    if not rolled_models:
        return None
    joined = {e["name"] for m in rolled_models for e in m["entities"] if e["type"] != "primary"}
    lookups = []
    for model in models:
        if not specs[model["name"]] and _primary_entity(model) in joined:
            lookup = copy.deepcopy(model)  # a dimension table reached by a kept entity
            lookup["entities"] = [e for e in model["entities"] if e.get("type") == "primary"]
            lookup["measures"] = []
            lookups.append(lookup)
    measures: dict[str, str] = {}
    for model in models:
        if specs[model["name"]]:
            measures.update(_rolled_measures(model))
    return {
        **raw,
        "semantic_models": rolled_models + lookups,
        "metrics": _rollup_metrics(raw, measures),
        "saved_queries": [],
    }


def _answerable(manifest: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """(categorical group-by names, time dimension names) of the rewritten manifest."""
    categorical: set[str] = set()
    time: set[str] = set()
    for model in manifest["semantic_models"]:
        primary = _primary_entity(model)
        for dimension in model.get("dimensions", []):
            name = f"{primary}__{dimension['name']}"
            if dimension.get("type") == "time":
                time.update({name, "metric_time"})
            else:
                categorical.add(name)
    return frozenset(categorical), frozenset(time)


def build(raw: dict[str, Any], parse: Any, engine_over: Any) -> Rollups | None:
    """The rollups of a semantic manifest (already in `schema.table` form), or None.

    `parse` turns a manifest dict into MetricFlow's manifest and `engine_over` builds an engine
    on it: the engine module's own, so both engines are made the same way."""
    manifest = rewrite(raw)
    if manifest is None:
        return None
    engine = engine_over(parse(manifest))
    categorical, time = _answerable(manifest)
    # The hidden parts of an average are not metrics anyone asks for.
    named = {m["name"] for m in raw.get("metrics", [])}
    metrics = frozenset(m["name"] for m in manifest["metrics"] if m["name"] in named)
    rolled = [m for m in raw.get("semantic_models", []) if _spec(m)]
    tables = frozenset(_spec(m)["model"] for m in rolled)
    sources = frozenset(m["node_relation"]["alias"] for m in rolled)
    return Rollups(engine, metrics, categorical, time, tables, sources)
