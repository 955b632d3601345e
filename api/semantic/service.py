"""The semantic layer's one entry point: list, compile, run.

Compiled SQL is treated like any other SQL: it passes `check_sql` (tables from the marts only,
functions from the allowlist, the row limit enforced) and runs as `tmdb_analyst` with the
statement timeout, through the same executor as `/ask`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.semantic.catalog import Catalog, closest
from api.semantic.engine import EngineCache, LoadedManifest, SemanticLayerUnavailable
from api.semantic.query import (
    InvalidMetricQuery,
    MetricQuery,
    Resolved,
    rename_outputs,
    resolve,
)
from api.semantic.rollup import Rollups
from api.text_to_sql.executor import QueryExecutor, QueryResult
from api.text_to_sql.guard import CheckedQuery, UnsafeSql, check_sql

DEFAULT_ROWS = 1_000
COMPILED_KEPT = 512  # compiled queries kept per semantic layer
_MESSAGE = re.compile(r"Message:\s*(.*?)(?:\n\s*\n|$)", re.DOTALL)


@dataclass(frozen=True)
class CompiledMetricQuery:
    query: MetricQuery
    checked: CheckedQuery
    rows: int  # how many rows the caller gets: the query's limit within the caller's bound

    @property
    def sql(self) -> str:
        return self.checked.sql


def _mf_reason(exc: Exception) -> str:
    """MetricFlow's explanation, in one line."""
    text = str(exc)
    match = _MESSAGE.search(text)
    reason = match.group(1) if match else text
    reason = " ".join(reason.split())
    return reason[:400]


def _on_rollup(rollups: Rollups, resolved: Resolved, request: Any) -> str | None:
    """The query's SQL over a rollup (`api.semantic.rollup`) when every part of it is in one;
    None sends it to the semantic models themselves."""
    if not rollups.answers(resolved):
        return None
    try:
        return rollups.engine.explain(request).sql_statement.sql
    except Exception:  # MetricFlow cannot place it on the rollups: the models answer it
        return None


class SemanticLayer:
    def __init__(self, target_dir: Path, executor: QueryExecutor | None = None) -> None:
        self.engines = EngineCache.shared(target_dir)
        self.executor = executor
        self._compiled: OrderedDict[tuple, CompiledMetricQuery] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> bool:
        """Load the engine now (at start-up) rather than on the first question; False when
        there is no semantic manifest yet (the first request then says so)."""
        try:
            self.engines.get()
        except SemanticLayerUnavailable:
            return False
        return True

    def catalog(self) -> Catalog:
        return self.engines.get().catalog

    def tables(self) -> frozenset[str]:
        """The marts tables the semantic models read: what a query built from compiled ones
        (a share's two counts) may read."""
        return self.engines.get().tables

    def clear_compiled(self) -> None:
        """Forget the compiled queries (benchmarks time MetricFlow's own work with it)."""
        with self._lock:
            self._compiled.clear()

    def saved_query(self, name: str) -> MetricQuery:
        """The metric query a saved query of the dbt project stands for."""
        saved = self.catalog().saved_queries
        if name not in saved:
            raise InvalidMetricQuery(f"unknown saved query {name!r}", closest(name, sorted(saved)))
        return MetricQuery(**saved[name].params)

    def compile(
        self,
        query: MetricQuery,
        *,
        max_rows: int = DEFAULT_ROWS,
        allowed_tables: Collection[str] | None = None,
        rollups: bool = True,
    ) -> CompiledMetricQuery:
        """Validate, compile with MetricFlow, and check the SQL as the guard checks any SQL.

        The same query over the same manifest always compiles to the same SQL, so a compiled
        query is kept (a bounded LRU keyed by the manifest's hash): a dashboard, a panel click
        or a repeated question costs the guard's checked result, not MetricFlow's planner.
        With `rollups` false the semantic models answer even what a rollup could (tests and
        benchmarks compare the two)."""
        loaded = self.engines.get()
        tables = tuple(sorted(allowed_tables)) if allowed_tables is not None else None
        key = (loaded.sha256, query.model_dump_json(), max_rows, tables, rollups)
        with self._lock:
            cached = self._compiled.get(key)
            if cached is not None:
                self._compiled.move_to_end(key)
                return cached
        compiled = self._compile(loaded, query, max_rows, allowed_tables, rollups)
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        return compiled

    def _compile(
        self,
        loaded: LoadedManifest,
        query: MetricQuery,
        max_rows: int,
        allowed_tables: Collection[str] | None,
        rollups: bool,
    ) -> CompiledMetricQuery:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        resolved = resolve(query, loaded.catalog)
        request = MetricFlowQueryRequest.create(
            metric_names=resolved.metrics,
            group_by_names=resolved.group_by or None,
            where_constraints=resolved.where or None,
            order_by_names=resolved.order_by or None,
            limit=query.limit,
        )
        allowed = set(allowed_tables or loaded.tables)
        sql = None
        onto = loaded.rollups
        # A caller's tables are those it can describe: the rollups, when they sum those.
        if rollups and onto is not None and onto.sources <= allowed:
            sql = _on_rollup(onto, resolved, request)
            if sql is not None:
                allowed |= onto.tables
        try:
            sql = sql or loaded.engine.explain(request).sql_statement.sql
        except Exception as exc:  # MetricFlow's own validation: one line back to the caller
            raise InvalidMetricQuery(
                f"MetricFlow cannot compile this query: {_mf_reason(exc)}"
            ) from None
        sql = rename_outputs(
            sql, resolved.renames, nulls_last=any(o.startswith("-") for o in resolved.order_by)
        )
        rows = min(query.limit or max_rows, max_rows)
        try:
            checked = check_sql(sql, allowed_tables=allowed, limit=rows + 1)
        except UnsafeSql as exc:
            raise InvalidMetricQuery(f"the compiled query was refused: {exc}") from None
        return CompiledMetricQuery(query, checked, rows)

    def run(
        self, query: MetricQuery, *, max_rows: int = DEFAULT_ROWS
    ) -> tuple[CompiledMetricQuery, QueryResult]:
        if self.executor is None:
            raise RuntimeError("this semantic layer has no executor")
        compiled = self.compile(query, max_rows=max_rows)
        return compiled, self.executor.run(compiled.sql, compiled.rows)
