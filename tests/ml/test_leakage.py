"""Nothing known only after release reaches the model."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.features import POST_RELEASE_COLUMNS, RAW_COLUMNS, LeakageError, Vocabulary, model_inputs
from tests.conftest import query


def test_post_release_columns_are_refused() -> None:
    raw = pd.DataFrame([dict.fromkeys(RAW_COLUMNS)])
    raw["genre_names"] = [["Drama"]]
    raw["production_company_names"] = [[]]
    raw["is_in_collection"] = [False]
    vocabulary = Vocabulary(genres=("Drama",), companies=())
    model_inputs(raw, vocabulary)  # the pre-release columns alone are fine
    for column in ("popularity", "vote_count", "revenue_usd", "roi", "is_commercial_success"):
        with pytest.raises(LeakageError, match=column):
            model_inputs(raw.assign(**{column: 1.0}), vocabulary)


def test_the_trained_model_sees_only_pre_release_inputs(warehouse) -> None:
    model = warehouse.model
    features = model.metadata.features
    fitted = list(model.model.feature_names_in_)
    assert fitted == features
    forbidden = {"popularity", "vote", "revenue_usd", "profit", "roi", "refreshed", "observed"}
    for name in fitted:
        allowed_revenue = name.endswith("prior_median_revenue_usd")  # earlier films only
        assert allowed_revenue or not any(word in name for word in forbidden), name


def test_the_features_mart_holds_no_post_release_column(warehouse) -> None:
    columns = {
        row[0]
        for row in query(
            warehouse.database_url,
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'ml_movie_features'",
        )
    }
    assert columns >= set(RAW_COLUMNS)
    assert columns & POST_RELEASE_COLUMNS == {"is_commercial_success"}  # the label only


# --- values, not just names: what a movie's post-release facts may change ------------------------

MART = "model.tmdb_analytics.ml_movie_features"
CURRENT_MOVIES = "model.tmdb_analytics.int_movies__current"
TRACK_RECORDS = "model.tmdb_analytics.int_movie_people__track_records"


def _rebuild_chain(manifest: dict) -> list[dict]:
    """The tables dbt builds from `int_movies__current` up to (not including) the features
    mart, in build order: what must be rebuilt for a changed movie to reach the mart."""
    nodes = manifest["nodes"]

    def ancestors(unique_id: str) -> set[str]:
        found: set[str] = set()
        todo = [unique_id]
        while todo:
            for parent in nodes.get(todo.pop(), {}).get("depends_on", {}).get("nodes", []):
                if parent in nodes and parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found

    between = [n for n in ancestors(MART) if CURRENT_MOVIES in ancestors(n)]
    return [nodes[n] for n in sorted(between, key=lambda n: len(ancestors(n)))]


def _features(cur, compiled_mart: str) -> pd.DataFrame:
    cur.execute(f"select {', '.join([*RAW_COLUMNS, 'is_commercial_success'])} from"
                f" ({compiled_mart}) as mart order by movie_id")  # fmt: skip
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    return frame.set_index("movie_id", drop=False)


def test_a_movies_post_release_facts_reach_only_later_movies_track_records(
    warehouse, tmp_path
) -> None:
    """Change one movie's revenue, votes and popularity (flipping its label) and rebuild, in a
    transaction that is rolled back: its own feature row and prediction stay as they were, and
    the only rows that change are those of movies released after it (their track records).

    Each table is rebuilt from its full build's SQL (compiled with `--full-refresh`: once the
    tables exist, incremental models compile to what changed since their last build)."""
    import json

    import psycopg2

    from ml.predict import Predictor
    from tests.conftest import settings
    from warehouse.dbt_runner import run_dbt

    compiled = settings().model_copy(update={"dbt_target_dir": tmp_path / "target"})
    run_dbt(compiled, ["compile", "--full-refresh", "--select", "+ml_movie_features"])
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    mart = manifest["nodes"][MART]["compiled_code"]
    movies = manifest["nodes"][CURRENT_MOVIES]["relation_name"]
    records = manifest["nodes"][TRACK_RECORDS]["relation_name"]
    conn = psycopg2.connect(warehouse.database_url)
    try:
        with conn.cursor() as cur:
            # an earlier labelled film of a director, and a later film they are the primary
            # director of (whose features carry their track record)
            cur.execute(
                "select earlier.movie_id, earlier.release_date, earlier.is_commercial_success,"
                "  later.movie_id"
                " from marts.ml_person_filmography as earlier"
                f" join {records} as later using (person_id, credit_role)"
                " join marts.ml_movie_features as features on features.movie_id = earlier.movie_id"
                " where credit_role = 'director' and later.release_date > earlier.release_date"
                "  and earlier.is_commercial_success is not null and features.budget_usd > 0"
                " order by earlier.movie_id, later.movie_id limit 1"
            )
            movie, released, succeeded, later = cur.fetchone()
            before = _features(cur, mart)
            cur.execute(
                f"update {movies} set"
                "  revenue_usd = case when %(succeeded)s then 1000 else budget_usd * 10 end,"
                "  vote_count = coalesce(vote_count, 0) + 10000,"
                "  vote_average = 10 - coalesce(vote_average, 0),"
                "  popularity = coalesce(popularity, 0) * 10 + 100"
                " where movie_id = %(movie)s",
                {"movie": movie, "succeeded": succeeded},
            )
            for node in _rebuild_chain(manifest):
                relation = node["relation_name"]
                cur.execute(f"select * from {relation} limit 0")
                columns = ", ".join(c.name for c in cur.description)
                cur.execute(f"delete from {relation}")
                cur.execute(
                    f"insert into {relation} ({columns})"
                    f" select {columns} from ({node['compiled_code']}) as rebuilt"
                )
            after = _features(cur, mart)
    finally:
        conn.rollback()
        conn.close()

    assert after.loc[movie, "is_commercial_success"] != before.loc[movie, "is_commercial_success"]
    shown_before, shown_after = before[RAW_COLUMNS].map(repr), after[RAW_COLUMNS].map(repr)
    changed = shown_before.index[(shown_before != shown_after).any(axis=1)]
    assert movie not in changed
    predictor = Predictor(warehouse.model)
    again = predictor.probabilities(after.loc[[movie]]).tolist()
    assert again == predictor.probabilities(before.loc[[movie]]).tolist()
    assert later in changed  # a later film of its director learns from it...
    assert (before.loc[changed, "release_date"] > released).all()  # ...and only later ones
