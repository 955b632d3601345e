"""Every model, source table and column of the warehouse, and every semantic model, entity,
dimension, measure, metric and saved query of the semantic layer, has a description.

The descriptions are not decoration: analysts browse them in dbt docs, and the text-to-SQL
feature puts them in front of the language model as the meaning of each table and column
(dbt's `persist_docs` also writes them into PostgreSQL comments). A column without one is a
column the model has to guess about, so a build that leaves any undocumented is incomplete.

`undocumented()` reads the two artefacts `dbt docs generate` writes: `manifest.json` (what the
project declares, descriptions included) and `catalog.json` (the columns each relation really
has in the warehouse), so a column added to a model's SQL but not to its YAML is caught too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PACKAGE = "tmdb_analytics"


def _blank(text: object) -> bool:
    return not isinstance(text, str) or not text.strip()


def _declared_columns(node: dict[str, Any]) -> dict[str, str]:
    """Declared column name (lower case, as PostgreSQL folds it) -> its description."""
    columns = node.get("columns") or {}
    return {
        str(column.get("name") or key).lower(): column.get("description") or ""
        for key, column in columns.items()
    }


def _built_columns(catalog: dict[str, Any], unique_id: str) -> list[str] | None:
    """Columns of the built relation in catalog order, or None when it is not in the catalog."""
    entry = (catalog.get("nodes") or {}).get(unique_id)
    if entry is None:
        return None
    columns = sorted(
        (entry.get("columns") or {}).values(), key=lambda column: column.get("index") or 0
    )
    return [str(column["name"]).lower() for column in columns]


def _model_problems(node: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    name = node["name"]
    problems = []
    if _blank(node.get("description")):
        problems.append(f"model {name}: has no description")
    declared = _declared_columns(node)
    built = _built_columns(catalog, node["unique_id"])
    if built is None:
        materialized = (node.get("config") or {}).get("materialized")
        if materialized != "ephemeral":
            problems.append(f"model {name}: not in catalog.json, its columns cannot be checked")
        built = []
    for column in dict.fromkeys([*built, *declared]):
        if _blank(declared.get(column)):
            problems.append(f"model {name}: column {column} has no description")
    return problems


def _source_problems(node: dict[str, Any]) -> list[str]:
    name = f"{node['source_name']}.{node['name']}"
    problems = []
    if _blank(node.get("description")):
        problems.append(f"source {name}: has no description")
    for column, description in _declared_columns(node).items():
        if _blank(description):
            problems.append(f"source {name}: column {column} has no description")
    return problems


def _semantic_problems(manifest: dict[str, Any]) -> list[str]:
    """The semantic layer's words are what /ask and `tmdb metrics list` show: none may be blank."""
    problems: list[str] = []
    for node in (manifest.get("semantic_models") or {}).values():
        if node.get("package_name") != PACKAGE:
            continue
        name = node["name"]
        if _blank(node.get("description")):
            problems.append(f"semantic model {name}: has no description")
        for kind in ("entities", "dimensions", "measures"):
            for element in node.get(kind) or []:
                if _blank(element.get("description")):
                    what = kind.rstrip("s").replace("entitie", "entity")
                    problems.append(
                        f"semantic model {name}: {what} {element['name']} has no description"
                    )
    for kind in ("metrics", "saved_queries"):
        for node in (manifest.get(kind) or {}).values():
            if node.get("package_name") != PACKAGE:
                continue
            what = "metric" if kind == "metrics" else "saved query"
            for field in ("label", "description"):
                if _blank(node.get(field)):
                    problems.append(f"{what} {node['name']}: has no {field}")
    return problems


def undocumented(manifest_path: Path, catalog_path: Path) -> list[str]:
    """Problems, one readable line each (`model dim_movies: column foo has no description`).

    Checked, for package `tmdb_analytics` only: each model's description; each column that
    exists in the built relation (per catalog.json) or is declared in YAML; each source
    table's description and each of its declared columns; the semantic layer's words
    (`_semantic_problems`). An empty list means complete.
    """
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    catalog = json.loads(Path(catalog_path).read_text(encoding="utf-8"))
    problems: list[str] = []
    for unique_id in sorted(manifest.get("nodes") or {}):
        node = manifest["nodes"][unique_id]
        if node.get("resource_type") == "model" and node.get("package_name") == PACKAGE:
            problems.extend(_model_problems(node, catalog))
    for unique_id in sorted(manifest.get("sources") or {}):
        node = manifest["sources"][unique_id]
        if node.get("package_name") == PACKAGE:
            problems.extend(_source_problems(node))
    problems.extend(_semantic_problems(manifest))
    return problems
