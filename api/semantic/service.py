"""The semantic layer's one entry point: list, compile, run.

Compiled SQL is treated like any other SQL: it passes `check_sql` (tables from the marts only,
functions from the allowlist, the row limit enforced) and runs as `tmdb_analyst` with the
statement timeout, through the same executor as `/ask`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from api.semantic import catalog as catalog_module
from api.semantic.catalog import Catalog
from api.semantic.engine import EngineCache, LoadedManifest
from api.semantic.query import InvalidMetricQuery, MetricQuery, rename_outputs, resolve
from api.text_to_sql.executor import QueryExecutor, QueryResult
from api.text_to_sql.guard import CheckedQuery, UnsafeSql, check_sql

DEFAULT_ROWS = 1_000
_MESSAGE = re.compile(r"Message:\s*(.*?)(?:\n\s*\n|$)", re.DOTALL)


@dataclass(frozen=True)
class CompiledMetricQuery:
    query: MetricQuery
    checked: CheckedQuery

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


class SemanticLayer:
    def __init__(self, target_dir: Path, executor: QueryExecutor | None = None) -> None:
        self.engines = EngineCache(target_dir)
        self.executor = executor
        self._lock = threading.Lock()
        self._catalog: tuple[str, Catalog] | None = None

    def _loaded(self) -> tuple[LoadedManifest, Catalog]:
        loaded = self.engines.get()
        with self._lock:
            if self._catalog is None or self._catalog[0] != loaded.sha256:
                self._catalog = (loaded.sha256, catalog_module.build(loaded.engine, loaded.raw))
            return loaded, self._catalog[1]

    def catalog(self) -> Catalog:
        return self._loaded()[1]

    @property
    def manifest_sha256(self) -> str:
        return self._loaded()[0].sha256

    def tables(self, loaded: LoadedManifest) -> frozenset[str]:
        names = {
            (model.get("node_relation") or {}).get("alias", "")
            for model in loaded.raw.get("semantic_models", [])
        }
        for spine in loaded.raw.get("project_configuration", {}).get("time_spines", []):
            names.add((spine.get("node_relation") or {}).get("alias", ""))
        return frozenset(n for n in names if n)

    def compile(
        self,
        query: MetricQuery,
        *,
        max_rows: int = DEFAULT_ROWS,
        allowed_tables: Collection[str] | None = None,
    ) -> CompiledMetricQuery:
        """Validate, compile with MetricFlow, and check the SQL as the guard checks any SQL."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        loaded, catalog = self._loaded()
        resolved = resolve(query, catalog)
        request = MetricFlowQueryRequest.create(
            metric_names=resolved.metrics,
            group_by_names=resolved.group_by or None,
            where_constraints=resolved.where or None,
            order_by_names=resolved.order_by or None,
            limit=query.limit,
        )
        try:
            sql = loaded.engine.explain(request).sql_statement.sql
        except Exception as exc:  # MetricFlow's own validation: one line back to the caller
            raise InvalidMetricQuery(
                f"MetricFlow cannot compile this query: {_mf_reason(exc)}"
            ) from None
        sql = rename_outputs(sql, resolved.renames)
        limit = min(query.limit or max_rows, max_rows)
        try:
            checked = check_sql(
                sql,
                allowed_tables=allowed_tables or self.tables(loaded),
                limit=limit + 1,
            )
        except UnsafeSql as exc:
            raise InvalidMetricQuery(f"the compiled query was refused: {exc}") from None
        return CompiledMetricQuery(query, checked)

    def run(
        self, query: MetricQuery, *, max_rows: int = DEFAULT_ROWS
    ) -> tuple[CompiledMetricQuery, QueryResult]:
        if self.executor is None:
            raise RuntimeError("this semantic layer has no executor")
        compiled = self.compile(query, max_rows=max_rows)
        limit = min(query.limit or max_rows, max_rows)
        return compiled, self.executor.run(compiled.sql, limit)
