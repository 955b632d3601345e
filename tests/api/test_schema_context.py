"""What the model is told about the marts comes from dbt's manifest and catalog alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.text_to_sql.schema_context import (
    Column,
    SchemaContextUnavailable,
    Table,
    build,
)


def _test(model: str, name: str, column: str | None = None, **kwargs) -> dict:
    return {
        "resource_type": "test",
        "attached_node": f"model.tmdb_analytics.{model}",
        "column_name": column,
        "test_metadata": {"name": name, "kwargs": kwargs},
    }


def _model(name: str, columns: dict, schema: str = "marts", package: str = "tmdb_analytics"):
    return {
        "resource_type": "model",
        "name": name,
        "schema": schema,
        "package_name": package,
        "description": f"The {name} mart.",
        "columns": columns,
    }


MANIFEST = {
    "nodes": {
        "model.tmdb_analytics.dim_movies": _model(
            "dim_movies",
            {
                "movie_id": {"description": "TMDB id.", "constraints": [{"type": "primary_key"}]},
                "title": {"description": "Title."},
                "status": {"description": "Release status."},
            },
        ),
        "model.tmdb_analytics.fct_cast": _model(
            "fct_cast",
            {
                "movie_id": {"description": "The movie.", "data_type": "BIGINT"},
                "person_id": {"description": "The person.", "data_type": "bigint"},
            },
        ),
        "model.tmdb_analytics.dim_genres": _model(
            "dim_genres", {"genre_id": {"description": "Id."}, "genre_name": {}}
        ),
        "model.tmdb_analytics.stg_movies": _model("stg_movies", {}, schema="staging"),
        "model.other.dim_other": _model("dim_other", {}, package="other"),
        # a semantic rollup: its cells mean something only as MetricFlow adds them up
        "model.tmdb_analytics.agg_movies_by_year": {
            **_model("agg_movies_by_year", {"movie_count": {"description": "Movies."}}),
            "config": {"meta": {"rollup_of": "movies"}},
        },
        "t1": _test("dim_movies", "unique", "title"),  # unique alone is not a key
        "t2": _test("dim_movies", "accepted_values", "status", values=["Released", "Planned"]),
        "t3": _test("fct_cast", "relationships", "movie_id", to="ref('dim_movies')",
                    field="movie_id"),
        "t4": _test("fct_cast", "unique_combination_of_columns",
                    combination_of_columns=["movie_id", "person_id"]),
        "t5": _test("dim_genres", "unique", "genre_id"),
        "t6": _test("dim_genres", "not_null", "genre_id"),
    },
    "docs": {
        "doc.tmdb_analytics.roi": {
            "name": "roi", "package_name": "tmdb_analytics", "block_contents": "Revenue / budget."
        },
        "doc.dbt.__overview__": {"name": "__overview__", "package_name": "dbt",
                                 "block_contents": "dbt"},
    },
}  # fmt: skip

CATALOG = {
    "nodes": {
        "model.tmdb_analytics.dim_movies": {
            "columns": {
                "title": {"name": "title", "type": "TEXT", "index": 2},
                "movie_id": {"name": "movie_id", "type": "BIGINT", "index": 1},
                "status": {"name": "status", "type": "text", "index": 3},
            }
        },
        "model.tmdb_analytics.dim_genres": {
            "columns": {
                "genre_id": {"name": "genre_id", "type": "integer", "index": 1},
                "genre_name": {"name": "genre_name", "type": "text", "index": 2},
            }
        },
    }
}


@pytest.fixture
def target(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "catalog.json").write_text(json.dumps(CATALOG))
    return tmp_path


def test_the_marts_with_keys_joins_values_and_grain(target: Path) -> None:
    context = build(target / "manifest.json", target / "catalog.json")
    assert list(context.tables) == ["dim_genres", "dim_movies", "fct_cast"]  # marts only, sorted
    assert context.tables["dim_movies"] == Table(
        "dim_movies",
        "The dim_movies mart.",
        [
            Column("movie_id", "bigint", "TMDB id.", is_primary_key=True),
            Column("title", "text", "Title."),
            Column("status", "text", "Release status.", accepted_values=["Released", "Planned"]),
        ],
        grain=["movie_id"],
    )
    genres = context.tables["dim_genres"]
    assert [c.name for c in genres.columns if c.is_primary_key] == ["genre_id"]
    assert genres.grain == ["genre_id"]
    # Not in the catalog: the declared columns, with their declared types.
    cast = context.tables["fct_cast"]
    assert [(c.name, c.type) for c in cast.columns] == [("movie_id", "bigint"),
                                                       ("person_id", "bigint")]  # fmt: skip
    assert cast.columns[0].references == "dim_movies.movie_id"
    assert cast.grain == ["movie_id", "person_id"]
    assert context.terms == {"roi": "Revenue / budget."}
    assert context.table_names == frozenset(context.tables)
    assert len(context.manifest_sha256) == 64
    prompt = context.prompt_text()
    assert "joins to marts.dim_movies.movie_id" in prompt
    assert "unique per: (movie_id, person_id)" in prompt and "- roi: Revenue / budget." in prompt


def test_missing_docs_are_unavailable(target: Path) -> None:
    (target / "catalog.json").unlink()
    with pytest.raises(SchemaContextUnavailable, match="tmdb transform"):
        build(target / "manifest.json", target / "catalog.json")
