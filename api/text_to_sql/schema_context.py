"""What the language model is told about the warehouse: the marts, from dbt's own artefacts.

The dbt docs are the single source of meaning: each mart's and column's description, the
column types from the built relations, primary keys (unique + not_null tests or a primary-key
constraint), join paths (relationships tests), allowed values (accepted_values tests), and the
doc blocks that define business terms (commercial success, ROI…). Built once per manifest and
reused for every question; the same object tells the SQL guard which tables exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "tmdb_analytics"
SCHEMA = "marts"
ROLLUP_OF = "rollup_of"  # model meta of a semantic rollup


class SchemaContextUnavailable(RuntimeError):
    """dbt's artefacts are missing: run `tmdb transform`."""


@dataclass
class Column:
    name: str
    type: str
    description: str
    is_primary_key: bool = False
    references: str | None = None  # "dim_movies.movie_id"
    accepted_values: list[str] = field(default_factory=list)


@dataclass
class Table:
    name: str
    description: str
    columns: list[Column]
    grain: list[str] = field(default_factory=list)


@dataclass
class SchemaContext:
    tables: dict[str, Table]
    terms: dict[str, str]
    manifest_sha256: str

    @property
    def table_names(self) -> frozenset[str]:
        return frozenset(self.tables)

    def prompt_text(self) -> str:
        """The schema as the prompt shows it: compact, one line per column."""
        lines = [
            f"PostgreSQL schema `{SCHEMA}` (query only these tables, always as {SCHEMA}.<table>):"
        ]
        for table in self.tables.values():
            lines.append("")
            lines.append(f"TABLE {SCHEMA}.{table.name} -- {_one_line(table.description)}")
            if table.grain:
                lines.append(f"  unique per: ({', '.join(table.grain)})")
            for column in table.columns:
                notes = []
                if column.is_primary_key:
                    notes.append("primary key")
                if column.references:
                    notes.append(f"joins to {SCHEMA}.{column.references}")
                if column.accepted_values:
                    notes.append("values: " + ", ".join(column.accepted_values))
                extra = f" [{'; '.join(notes)}]" if notes else ""
                lines.append(
                    f"  {column.name} {column.type}{extra} -- {_one_line(column.description)}"
                )
        if self.terms:
            lines.append("")
            lines.append("Business terms:")
            for name, text in self.terms.items():
                lines.append(f"- {name}: {_one_line(text)}")
        return "\n".join(lines)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _model_name(ref: str) -> str | None:
    match = re.search(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)", ref or "")
    return match.group(1) if match else None


def build(manifest_path: Path, catalog_path: Path) -> SchemaContext:
    """The context from dbt's `manifest.json` (meaning, tests) and `catalog.json` (types)."""
    raw_manifest, manifest, catalog = _read_artifacts(manifest_path, catalog_path)
    nodes = manifest.get("nodes", {})
    models = _mart_models(nodes)
    tests_by_model = _tests_by_model(nodes, models)
    tables: dict[str, Table] = {}
    for uid, node in sorted(models.items(), key=lambda item: item[1]["name"]):
        built = (catalog.get("nodes", {}).get(uid) or {}).get("columns", {})
        tables[node["name"]] = _table(node, built, tests_by_model.get(uid, []))
    return SchemaContext(
        tables, _business_terms(manifest), hashlib.sha256(raw_manifest).hexdigest()
    )


def _read_artifacts(manifest_path: Path, catalog_path: Path) -> tuple[bytes, dict, dict]:
    """The manifest's raw bytes (hashed to key caches) and both artefacts parsed."""
    if not manifest_path.exists() or not catalog_path.exists():
        raise SchemaContextUnavailable("dbt docs are missing: run `tmdb transform` first")
    raw_manifest = manifest_path.read_bytes()
    return raw_manifest, json.loads(raw_manifest), json.loads(catalog_path.read_text())


def _mart_models(nodes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """This project's models built in the marts schema, by unique id: all the model may query.
    Rollups (meta `rollup_of`) are the semantic layer's own summaries, left out: their cells
    mean something only as MetricFlow adds them up (api/semantic/rollup.py)."""
    return {
        uid: node
        for uid, node in nodes.items()
        if node.get("resource_type") == "model"
        and node.get("package_name") == PACKAGE
        and node.get("schema") == SCHEMA
        and ROLLUP_OF not in (node.get("config") or {}).get("meta", {})
    }


def _tests_by_model(
    nodes: dict[str, dict[str, Any]], models: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The data tests attached to each mart: where keys, joins and allowed values come from."""
    tests: dict[str, list[dict[str, Any]]] = {}
    for node in nodes.values():
        if node.get("resource_type") == "test" and node.get("attached_node") in models:
            tests.setdefault(node["attached_node"], []).append(node)
    return tests


def _table(
    node: dict[str, Any], built: dict[str, dict[str, Any]], tests: list[dict[str, Any]]
) -> Table:
    """One mart: its columns as built (declared ones if the catalog lacks it), and its grain."""
    declared = node.get("columns", {})
    primary_key = _primary_key(declared, tests)
    ordered = sorted(built.values(), key=lambda c: c.get("index", 0)) or [
        {"name": name} for name in declared
    ]
    columns = [
        _column(built_column, declared.get(built_column["name"], {}), tests, primary_key)
        for built_column in ordered
    ]
    return Table(node["name"], node.get("description", ""), columns, _grain(tests, columns))


def _primary_key(declared: dict[str, dict[str, Any]], tests: list[dict[str, Any]]) -> set[str]:
    """A primary-key constraint if declared, else the columns tested both unique and not_null."""
    unique = {t.get("column_name") for t in tests if _test_name(t) == "unique"}
    not_null = {t.get("column_name") for t in tests if _test_name(t) == "not_null"}
    constrained = {
        name
        for name, spec in declared.items()
        if any(c.get("type") == "primary_key" for c in spec.get("constraints", []))
    }
    return constrained or (unique & not_null)


def _column(
    built_column: dict[str, Any],
    spec: dict[str, Any],
    tests: list[dict[str, Any]],
    primary_key: set[str],
) -> Column:
    """A column: the built type (else the declared one), its description, and what its tests
    say (a relationships test is a join path, accepted_values its allowed values)."""
    name = built_column["name"]
    column = Column(
        name=name,
        type=str(built_column.get("type") or spec.get("data_type") or "unknown").lower(),
        description=spec.get("description", ""),
        is_primary_key=name in primary_key,
    )
    for test in tests:
        if test.get("column_name") != name:
            continue
        kwargs = (test.get("test_metadata") or {}).get("kwargs", {})
        if _test_name(test) == "relationships":
            target = _model_name(kwargs.get("to", ""))
            if target:
                column.references = f"{target}.{kwargs.get('field')}"
        elif _test_name(test) == "accepted_values":
            column.accepted_values = [str(v) for v in kwargs.get("values", [])]
    return column


def _grain(tests: list[dict[str, Any]], columns: list[Column]) -> list[str]:
    """What a row is unique per: a unique_combination_of_columns test, else the primary key."""
    return next(
        (
            list((t.get("test_metadata") or {}).get("kwargs", {}).get("combination_of_columns"))
            for t in tests
            if _test_name(t) == "unique_combination_of_columns"
        ),
        [c.name for c in columns if c.is_primary_key],
    )


def _business_terms(manifest: dict[str, Any]) -> dict[str, str]:
    """This project's doc blocks: the definitions of commercial success, ROI and the like."""
    return {
        doc["name"]: doc.get("block_contents", "")
        for doc in manifest.get("docs", {}).values()
        if doc.get("package_name") == PACKAGE
    }


def _test_name(test: dict[str, Any]) -> str | None:
    return (test.get("test_metadata") or {}).get("name")


class SchemaContextCache:
    """One context per manifest: rebuilt only when `dbt docs generate` wrote a new one."""

    def __init__(self, target_dir: Path) -> None:
        self.target_dir = target_dir
        self._lock = threading.Lock()
        self._key: tuple[float, int] | None = None
        self._context: SchemaContext | None = None

    def get(self) -> SchemaContext:
        manifest = self.target_dir / "manifest.json"
        try:
            stat = manifest.stat()
        except FileNotFoundError as exc:
            raise SchemaContextUnavailable(
                "dbt docs are missing: run `tmdb transform` first"
            ) from exc
        key = (stat.st_mtime, stat.st_size)
        with self._lock:
            if self._context is None or key != self._key:
                self._context = build(manifest, self.target_dir / "catalog.json")
                self._key = key
            return self._context
