"""`tmdb refresh` on a real warehouse, with a running API beside it (issue 28, sections 1 and 2).

One warehouse (bulk at day 0, built, a model trained) goes through the cycle as a deployment
would: a refresh on what is loaded (the summary, JSON, grants after the swap), a refresh after
the local TMDB server moves a day while the API answers throughout and then answers from the
new data without a restart, and a refresh whose `dbt build` fails, which leaves every answer as
it was. A second refresh while one runs exits at once naming the first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg2
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from cli.refresh import RefreshFailed, RefreshOptions, refresh
from ingestion.fake_tmdb import FakeTmdbServer
from tests.api.conftest import wait_until_ready
from tests.builders import catalogue, loaded_warehouse_env, tmdb_env, trained_warehouse_env
from tests.conftest import REPO_ROOT, query
from warehouse.connection import analyst_url
from warehouse.refreshes import RefreshLock
from warehouse.settings import Settings, reset_settings_cache

SEED = 5
MOVIES = 900
COUNT = "how many movies are there"


def _tmdb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _marts_fingerprint(url: str) -> tuple:
    """What answers are computed from: every movie row (bookkeeping left out: when a build wrote
    it), its score, and the daily metrics."""
    return tuple(
        query(url, statement)[0]
        for statement in (
            "select count(*), md5(string_agg((to_jsonb(m) - 'built_at')::text, ','"
            " order by movie_id)) from marts.dim_movies m",
            "select count(*), md5(string_agg(p::text, ',' order by movie_id, model_version))"
            " from marts.movie_success_predictions p",
            "select count(*), max(snapshot_date) from marts.fct_movie_metrics_daily",
        )
    )


def _count_answer(client: TestClient) -> int:
    response = client.post("/ask", json={"question": COUNT})
    assert response.status_code == 200, response.text
    return response.json()["rows"][0][-1]


def _analyst_can_read_not_write(settings: Settings) -> None:
    _analyst_can_read_not_write_marts(settings)
    conn = psycopg2.connect(analyst_url(settings))
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("select count(*) from marts__next.dim_movies")  # the shadow is not theirs
    finally:
        conn.close()


def _analyst_can_read_not_write_marts(settings: Settings) -> None:
    conn = psycopg2.connect(analyst_url(settings))
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from marts.dim_movies")
            assert cur.fetchone()[0] > 0
        conn.rollback()
        with conn.cursor() as cur, pytest.raises(psycopg2.Error):
            cur.execute("delete from marts.dim_movies")
    finally:
        conn.close()


def test_refresh_cycle_with_a_running_api(
    pg_socket_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = catalogue(SEED, MOVIES)
    with trained_warehouse_env(pg_socket_url, tmp_path, world, "refresh-test") as (url, _):
        monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
        monkeypatch.setenv("ASK_ENGINE", "builtin")
        monkeypatch.setenv("ASK_REQUESTS_PER_MINUTE", "1000000")  # it asks as fast as it can
        monkeypatch.setenv("REFRESH_POLL_SECONDS", "600")  # the test polls by hand
        _cycle(url, tmp_path)


def _cycle(url: str, folder: Path) -> None:
    reset_settings_cache()
    settings = Settings()
    before = _marts_fingerprint(url)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.tmdb
        # Issue 27 §3: the value index is built at start-up; /health says ok once it is.
        health = wait_until_ready(client)
        assert health["status"] == "ok" and state.grounder.builds == 1
        assert health["data_as_of"]["refreshed_at"] is None
        count0 = _count_answer(client)
        assert state.grounder.builds == 1  # the first question built nothing
        assert count0 == query(url, "select count(*) from marts.dim_movies")[0][0]

        # 1. A refresh on what is loaded, as a scheduler runs it: one JSON object on stdout.
        done = _tmdb("refresh", "--skip-ingest", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["status"] == "succeeded" and summary["films_changed"] is None
        assert summary["models_built"] >= 20 and summary["tests_failed"] == 0
        assert summary["tests_passed"] > 100
        assert summary["model_version"] == "refresh-test" and summary["retrained"] is False
        assert summary["scored"] == count0
        statuses = {f["source"]: f["status"] for f in summary["freshness"]}
        assert statuses["raw_tmdb.movies"] == "pass" and "raw_tmdb.movie_deletions" not in statuses
        assert set(summary["seconds"]) >= {"freshness", "build", "score", "swap", "docs", "total"}
        # Nothing new was loaded: the same movies and figures, now with every movie scored
        # (the warehouse was trained, never scored).
        now = _marts_fingerprint(url)
        assert (now[0], now[2]) == (before[0], before[2]) and now[1][0] == count0
        _analyst_can_read_not_write(settings)
        assert query(url, "select status from tmdb_app.refreshes") == [("succeeded",)]
        state.watcher.poll()
        as_of = client.get("/health").json()["data_as_of"]
        assert as_of["refreshed_at"] is not None and as_of["newest_record_at"] is not None

        # 2. The local TMDB server moves a day; /ask answers throughout the refresh.
        day1 = catalogue(SEED, MOVIES, day=1)
        with FakeTmdbServer(day1) as server:
            moved = Settings(**tmdb_env(server))
            result: dict[str, object] = {}

            def run() -> None:
                try:
                    result["summary"] = refresh(moved, today=day1.date_of(1))
                except BaseException as exc:  # reported below
                    result["error"] = exc

            worker = threading.Thread(target=run)
            worker.start()
            answers = []
            while worker.is_alive():
                answers.append(_count_answer(client))
            worker.join()
        assert "error" not in result, result.get("error")
        films = result["summary"].films_changed
        assert films >= len(day1.changed_ids(1) - day1.removed_ids(1)) > 0
        count1 = query(url, "select count(*) from marts.dim_movies")[0][0]
        assert count1 != count0
        # Every answer during the refresh came from whole marts: the old ones, then the new.
        assert answers and set(answers) <= {count0, count1}
        assert answers == sorted(answers, key=lambda n: n == count1)
        # The running API picks the new marts, docs, values and model up without a restart.
        state.watcher.poll()
        assert _count_answer(client) == count1
        added = sorted(
            i for i in day1.added_ids(1) if day1.details(i) and not day1.details(i)["adult"]
        )
        title = query(url, "select title from marts.dim_movies where movie_id = %s", (added[0],))
        for _ in range(600):  # the new value index is built in the background
            if state.grounder.builds >= 2:
                break
            threading.Event().wait(0.05)
        assert state.grounder.builds >= 2
        assert any(m.value == title[0][0] for m in state.grounder.get().lookup(title[0][0]))
        assert len(query(url, "select 1 from tmdb_app.refreshes where status = 'succeeded'")) == 2

        # 3. A refresh whose dbt build fails: non-zero, one line, every answer as it was.
        after = _marts_fingerprint(url)
        project = _project_with_a_failing_test(folder / "project")
        failed = _tmdb("refresh", "--skip-ingest", env={"DBT_PROJECT_DIR": str(project)})
        _one_line_error(failed, "refresh stopped at build", "assert_refresh_must_stop")
        assert _marts_fingerprint(url) == after
        state.watcher.poll()
        assert _count_answer(client) == count1
        assert query(url, "select count(*) from tmdb_app.refreshes where status = 'failed'") == [
            (1,)
        ]


def _project_with_a_failing_test(folder: Path) -> Path:
    """A copy of the dbt project with one more singular test, of error severity, that fails."""
    folder.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO_ROOT / name, folder / name)
    shutil.copytree(REPO_ROOT / "dbt_project", folder / "dbt_project")
    (folder / "dbt_project" / "tests" / "assert_refresh_must_stop.sql").write_text(
        "select movie_id from {{ ref('dim_movies') }} limit 1\n"
    )
    return folder


def test_a_second_refresh_exits_at_once_naming_the_first(database_url: str) -> None:
    with RefreshLock(database_url) as held:
        second = _tmdb("refresh", "--skip-ingest")
        line = _one_line_error(second, "another refresh is running", f"pid {os.getpid()}")
        assert held.holder.host[:20] in line


def test_a_failed_step_is_recorded(database_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    reset_settings_cache()
    with pytest.raises(RefreshFailed, match=r"refresh stopped at (freshness|build): "):
        refresh(Settings(), RefreshOptions(skip_ingest=True))
    assert query(database_url, "select status, reason from tmdb_app.refreshes")[0][0] == "failed"


def test_the_first_refresh_builds_marts_and_trains_from_nothing(
    pg_socket_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make demo` does after its backfill: no marts, no model, one refresh."""
    with loaded_warehouse_env(pg_socket_url, tmp_path, catalogue(SEED, MOVIES)) as (url, _):
        monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
        reset_settings_cache()
        summary = refresh(Settings(), RefreshOptions(skip_ingest=True))
        assert summary.retrained and summary.model_note == "retrained: no promoted model yet"
        movies = query(url, "select count(*) from marts.dim_movies")[0][0]
        assert movies > 0 and summary.scored == movies
        # No earlier marts to keep: the shadow schema is created afresh by the next refresh.
        assert query(url, "select count(*) from pg_namespace where nspname = 'marts__next'") == [
            (0,)
        ]
        _analyst_can_read_not_write_marts(Settings())
        manifest = json.loads((tmp_path / "target" / "semantic_manifest.json").read_text())
        schemas = {m["node_relation"]["schema_name"] for m in manifest["semantic_models"]}
        assert schemas == {"marts"}  # the served artefacts name the live marts, never the shadow
