"""MetricFlow (and the catalog) built once per semantic manifest, for compiling only.

MetricFlow needs a SQL client to know the dialect; ours cannot execute anything, because the
SQL it compiles must go through the guard and the analyst role like any other query. Building
the engine takes tens of milliseconds and a compile about as much, so the engine is kept until
`tmdb transform` writes a different `semantic_manifest.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from api.semantic import rollup
from api.semantic.catalog import Catalog
from api.semantic.catalog import build as build_catalog

MANIFEST_FILE = "semantic_manifest.json"
log = logging.getLogger(__name__)


class SemanticLayerUnavailable(RuntimeError):
    """There is no semantic manifest yet: run `tmdb transform`."""


class CompileOnlySqlClient:
    """The SQL client MetricFlow is given: PostgreSQL's dialect, and no way to run a query."""

    def __init__(self) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        self.sql_engine_type = SqlEngine.POSTGRES
        self.sql_plan_renderer = PostgresSQLSqlPlanRenderer()

    def _refuse(self, *_: Any, **__: Any) -> NoReturn:
        raise RuntimeError("the semantic layer compiles SQL; the analyst executor runs it")

    query = execute = dry_run = _refuse

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"%({bind_parameter_key})s"


@dataclass(frozen=True)
class LoadedManifest:
    """One manifest and everything derived from it, built together and replaced together."""

    sha256: str
    engine: Any  # metricflow.engine.metricflow_engine.MetricFlowEngine
    catalog: Catalog
    tables: frozenset[str]  # what compiled SQL may read: the models' tables and their rollups
    rollups: rollup.Rollups | None = None


def _without_database(raw: dict[str, Any]) -> dict[str, Any]:
    """Relations as `schema.table`: the analyst's connection is already in the right database,
    and the guard refuses catalog-qualified names."""
    spines = raw.get("project_configuration", {}).get("time_spines", [])
    for element in [*raw.get("semantic_models", []), *spines]:
        relation = element.get("node_relation") or {}
        if relation.get("schema_name") and relation.get("alias"):
            relation["relation_name"] = f'"{relation["schema_name"]}"."{relation["alias"]}"'
    return raw


def _tables(raw: dict[str, Any]) -> frozenset[str]:
    """The marts relations the semantic models and time spines read: what the guard allows."""
    spines = raw.get("project_configuration", {}).get("time_spines", [])
    names = {
        (element.get("node_relation") or {}).get("alias", "")
        for element in [*raw.get("semantic_models", []), *spines]
    }
    return frozenset(name for name in names if name)


def load(target_dir: Path) -> LoadedManifest:
    """Parse `semantic_manifest.json` and build a MetricFlow engine over it."""
    path = target_dir / MANIFEST_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SemanticLayerUnavailable(
            f"no semantic manifest at {path}: run `tmdb transform` first"
        ) from None
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.dbt_manifest_parser import (
        parse_manifest_from_dbt_generated_manifest,
    )
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    raw = _without_database(json.loads(text))

    def parse(manifest: dict[str, Any]) -> Any:
        return parse_manifest_from_dbt_generated_manifest(manifest_json_string=json.dumps(manifest))

    def engine_over(manifest: Any) -> Any:
        return MetricFlowEngine(SemanticManifestLookup(manifest), CompileOnlySqlClient())

    engine = engine_over(parse(raw))
    try:
        rollups = rollup.build(raw, parse, engine_over)
    except Exception:  # a speed-up only: without it every query reads the semantic models
        log.exception("the rollups' manifest did not load; metric queries read the models")
        rollups = None
    tables = _tables(raw) | (rollups.tables if rollups else frozenset())
    return LoadedManifest(
        hashlib.sha256(text.encode()).hexdigest(),
        engine,
        build_catalog(engine, raw),
        tables,
        rollups,
    )


class EngineCache:
    """The engine for the current manifest: rebuilt when the file changes (mtime or size).

    `shared` gives one cache per target directory for the whole process, so the API, its ask
    service and an MCP session over the same dbt target load the manifest once, not once each.
    """

    _shared: ClassVar[dict[Path, EngineCache]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls, target_dir: Path) -> EngineCache:
        key = Path(target_dir).resolve()
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(key)
            return cls._shared[key]

    def __init__(self, target_dir: Path) -> None:
        self.target_dir = target_dir
        self._lock = threading.Lock()
        self._loaded: LoadedManifest | None = None
        self._stamp: tuple[int, int] | None = None
        self._reloading = False

    def get(self) -> LoadedManifest:
        path = self.target_dir / MANIFEST_FILE
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._loaded is not None and (stamp == self._stamp or self._reloading):
                return self._loaded
            if self._loaded is None:
                self._loaded, self._stamp = load(self.target_dir), stamp
                return self._loaded
            # A new manifest (a refresh): one caller loads it while the others keep the
            # engine they have, so no request waits for MetricFlow behind this lock.
            self._reloading = True
        try:
            loaded = load(self.target_dir)
        finally:
            with self._lock:
                self._reloading = False
        with self._lock:
            self._loaded, self._stamp = loaded, stamp
            return loaded
