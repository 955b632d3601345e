"""Every model, column and source of the built warehouse is described (analysts and the
text-to-SQL feature read these descriptions), and the check itself can fail."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dbt.conftest import BuiltWarehouse
from warehouse.dbt_docs_check import undocumented


def test_the_built_project_is_fully_documented(warehouse: BuiltWarehouse) -> None:
    assert undocumented(warehouse.manifest_path, warehouse.catalog_path) == []


def _model(name: str, description: str, columns: dict[str, str]) -> dict:
    return {
        "unique_id": f"model.tmdb_analytics.{name}",
        "resource_type": "model",
        "package_name": "tmdb_analytics",
        "name": name,
        "description": description,
        "config": {"materialized": "table"},
        "columns": {c: {"name": c, "description": d} for c, d in columns.items()},
    }


def _relation(name: str, columns: list[str]) -> dict:
    return {
        "unique_id": f"model.tmdb_analytics.{name}",
        "columns": {
            c: {"name": c, "index": i, "type": "text", "comment": None}
            for i, c in enumerate(columns, 1)
        },
    }


def _write(tmp_path: Path, manifest: dict, catalog: dict) -> tuple[Path, Path]:
    manifest_path, catalog_path = tmp_path / "manifest.json", tmp_path / "catalog.json"
    manifest_path.write_text(json.dumps(manifest))
    catalog_path.write_text(json.dumps(catalog))
    return manifest_path, catalog_path


def test_the_check_catches_missing_descriptions(tmp_path: Path) -> None:
    documented = _model("dim_movies", "One row per movie.", {"movie_id": "TMDB movie id."})
    undescribed = _model("dim_people", "  ", {"person_id": "TMDB person id.", "name": ""})
    foreign = _model("other", "", {"x": ""}) | {"package_name": "dbt_utils"}
    test = {"resource_type": "test", "package_name": "tmdb_analytics", "name": "t"}
    source = {
        "resource_type": "source",
        "package_name": "tmdb_analytics",
        "source_name": "tmdb",
        "name": "movies",
        "description": "",
        "columns": {
            "id": {"name": "id", "description": "TMDB movie id."},
            "budget": {"name": "budget", "description": ""},
        },
    }
    manifest = {
        "nodes": {n["unique_id"]: n for n in (documented, undescribed, foreign)}
        | {"test.tmdb_analytics.t": test},
        "sources": {"source.tmdb_analytics.tmdb.movies": source},
    }
    catalog = {
        "nodes": {
            # `title` exists in the relation but was never declared in YAML.
            "model.tmdb_analytics.dim_movies": _relation("dim_movies", ["movie_id", "title"]),
            "model.tmdb_analytics.dim_people": _relation("dim_people", ["PERSON_ID", "name"]),
        }
    }

    assert undocumented(*_write(tmp_path, manifest, catalog)) == [
        "model dim_movies: column title has no description",
        "model dim_people: has no description",
        "model dim_people: column name has no description",
        "source tmdb.movies: has no description",
        "source tmdb.movies: column budget has no description",
    ]


def test_the_check_passes_a_documented_project(tmp_path: Path) -> None:
    model = _model("dim_genres", "One row per genre.", {"genre_id": "Id.", "genre_name": "Name."})
    manifest = {"nodes": {model["unique_id"]: model}, "sources": {}}
    catalog = {"nodes": {model["unique_id"]: _relation("dim_genres", ["genre_id", "genre_name"])}}
    assert undocumented(*_write(tmp_path, manifest, catalog)) == []


def test_the_check_catches_undescribed_semantic_words(tmp_path: Path) -> None:
    ours = {"package_name": "tmdb_analytics"}
    semantic_model = ours | {
        "name": "movies",
        "description": "One row per movie.",
        "entities": [{"name": "movie", "description": ""}],
        "dimensions": [{"name": "title", "description": "The title."}],
        "measures": [{"name": "movie_count", "description": " "}],
    }
    manifest = {
        "nodes": {},
        "sources": {},
        "semantic_models": {"semantic_model.tmdb_analytics.movies": semantic_model},
        "metrics": {
            "metric.tmdb_analytics.movies": ours | {"name": "movies", "label": "Movies"},
            "metric.other.x": {"package_name": "other", "name": "x"},
        },
        "saved_queries": {"saved_query.tmdb_analytics.q": ours | {"name": "q", "label": "Q"}},
    }
    assert undocumented(*_write(tmp_path, manifest, {"nodes": {}})) == [
        "semantic model movies: entity movie has no description",
        "semantic model movies: measure movie_count has no description",
        "metric movies: has no description",
        "saved query q: has no description",
    ]
