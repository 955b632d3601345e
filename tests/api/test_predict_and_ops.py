"""/predict, /models/current, /health, /dbt-docs/, auth, rate limit and body limits."""

from __future__ import annotations

import json
import shutil

import psycopg2

from tests.api.conftest import iso_utc, sql_then_text, wait_until_ready
from tests.conftest import query

DESCRIPTION = {
    "title": "Untitled space opera",
    "budget_usd": 120_000_000,
    "runtime_minutes": 134,
    "release_date": "2027-06-18",
    "genres": ["Science Fiction", "Adventure"],
    "original_language": "en",
    "us_certification": "PG-13",
    "in_collection": True,
    "top_cast": ["Somebody New"],
}


def _known_ids(url: str, n: int) -> list[int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select movie_id from marts.dim_movies order by movie_id limit %s", (n,))
        return [row[0] for row in cur.fetchall()]


def test_predict_a_known_movie_and_a_description(api, api_warehouse) -> None:
    client = api()
    movie_id = _known_ids(api_warehouse.database_url, 1)[0]
    known = client.post("/predict", json={"movie_id": movie_id})
    assert known.status_code == 200, known.text
    body = known.json()
    assert body["movie_id"] == movie_id and 0 <= body["success_probability"] <= 1
    assert body["model_version"] == "api-test" and body["threshold"] == 0.5
    assert body["predicted_success"] == (body["success_probability"] >= 0.5)
    assert body["top_factors"] and {"feature", "effect"} <= set(body["top_factors"][0])
    described = client.post("/predict", json=DESCRIPTION).json()
    assert 0 < described["success_probability"] < 1 and "movie_id" not in described


def test_predict_validation_messages(api) -> None:
    client = api()
    cases = {
        "budget_usd": {**DESCRIPTION, "budget_usd": -5},
        "release_date": {**DESCRIPTION, "release_date": "2027-13-45"},
        "us_certification": {**DESCRIPTION, "us_certification": "X-RATED"},
        "unknown genre": {**DESCRIPTION, "genres": ["Space Western"]},
        "either movie_id": {"movie_id": 1, "budget_usd": 5},
    }
    for needle, payload in cases.items():
        response = client.post("/predict", json=payload)
        assert response.status_code == 422, (needle, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_input" and needle in error["message"], error
    unknown = client.post("/predict", json={**DESCRIPTION, "genres": ["Space Western"]})
    assert "Drama" in unknown.json()["error"]["message"]  # the known genres are listed
    missing = client.post("/predict", json={"movie_id": 999_999_999})
    assert missing.status_code == 422 and "unknown movie_id" in missing.text


def test_batch_keeps_the_order(api, api_warehouse) -> None:
    client = api()
    ids = _known_ids(api_warehouse.database_url, 3)
    items = [{"movie_id": ids[0]}, DESCRIPTION, {"movie_id": ids[2]}, {"movie_id": ids[1]}]
    batch = client.post("/predict/batch", json={"items": items})
    assert batch.status_code == 200, batch.text
    predictions = batch.json()["predictions"]
    assert [p.get("movie_id") for p in predictions] == [ids[0], None, ids[2], ids[1]]
    single = client.post("/predict", json={"movie_id": ids[2]}).json()
    assert predictions[2]["success_probability"] == single["success_probability"]
    too_many = client.post("/predict/batch", json={"items": [{"movie_id": ids[0]}] * 1001})
    assert too_many.status_code == 422


def test_model_card_health_and_docs(api, api_warehouse) -> None:
    client = api()
    card = client.get("/models/current").json()
    assert card["version"] == "api-test" and card["features"] and card["metrics"]["model"]
    assert card["data_snapshot"]["training_rows"] > 0
    assert "## Intended use" in card["model_card_markdown"]
    health = wait_until_ready(client)
    newest = query(
        api_warehouse.database_url, "select max(last_refreshed_at) from marts.dim_movies"
    )
    # Built by `tmdb transform`, never refreshed: no refresh yet, but the newest record it holds.
    assert health == {"status": "ok", "database": "ok", "model_version": "api-test",
                      "dbt_docs": True,
                      "data_as_of": {"refreshed_at": None,
                                     "newest_record_at": iso_utc(newest[0][0])}}  # fmt: skip
    docs = client.get("/dbt-docs/")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    manifest = client.get("/dbt-docs/manifest.json").json()
    assert "model.tmdb_analytics.dim_movies" in manifest["nodes"]
    assert client.get("/dbt-docs/run_results.json").status_code == 404
    assert client.get("/dbt-docs/../profiles.yml").status_code == 404


def test_api_keys_guard_predict_and_ask(api, gemini, api_warehouse) -> None:
    gemini.respond_with(sql_then_text("select count(*) as movies from marts.dim_movies"))
    client = api(API_KEYS="alpha,beta")
    movie_id = _known_ids(api_warehouse.database_url, 1)[0]
    for path, payload in (("/predict", {"movie_id": movie_id}), ("/ask", {"question": "Count"})):
        assert client.post(path, json=payload).status_code == 401
        wrong = client.post(path, json=payload, headers={"X-API-Key": "gamma"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        assert client.post(path, json=payload, headers={"X-API-Key": "beta"}).status_code == 200
    assert client.get("/health").status_code == 200  # open


def test_ask_rate_limit_per_key(api, gemini) -> None:
    gemini.respond_with(sql_then_text("select count(*) as movies from marts.dim_movies"))
    client = api(API_KEYS="alpha,beta", ASK_REQUESTS_PER_MINUTE="3")
    codes = [
        client.post("/ask", json={"question": "Count"}, headers={"X-API-Key": "alpha"}).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    other = client.post("/ask", json={"question": "Count"}, headers={"X-API-Key": "beta"})
    assert other.status_code == 200  # limits are per key
    limited = client.post("/ask", json={"question": "Count"}, headers={"X-API-Key": "alpha"})
    assert limited.json()["error"]["code"] == "rate_limited" and "Retry-After" in limited.headers


def test_oversized_and_malformed_bodies(api) -> None:
    client = api()
    huge = client.post(
        "/ask", content=b'{"question": "' + b"x" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    broken = client.post(
        "/predict", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid_input"
    assert "Traceback" not in broken.text and "postgresql://" not in broken.text


def test_a_release_far_past_what_the_model_learned_is_answered_with_a_warning(api) -> None:
    from datetime import date, timedelta

    client = api()
    card = client.get("/models/current").json()
    learned = date.fromisoformat(card["learned_until"])
    assert card["data_snapshot"]["learned_until"] == card["learned_until"]
    assert card["backtest"]["periods"] and card["calibration_method"]
    soon = {**DESCRIPTION, "release_date": str(learned + timedelta(days=30))}
    later = {**DESCRIPTION, "release_date": str(learned + timedelta(days=800))}
    near = client.post("/predict", json=soon)
    assert near.status_code == 200 and "warnings" not in near.json()
    far = client.post("/predict", json=later).json()
    (warning,) = far["warnings"]
    assert f"800 days after the newest release this model learned from ({learned})" in warning
    batch = client.post("/predict/batch", json={"items": [soon, later]}).json()["predictions"]
    assert "warnings" not in batch[0] and batch[1]["warnings"] == far["warnings"]


def test_a_known_movie_released_far_past_what_the_model_learned_carries_the_warning(
    api, api_warehouse, tmp_path
) -> None:
    """The same model, its metadata saying it learned nothing after 1990: by id, over HTTP, a
    later release is answered with the warning and an earlier one without it."""
    stale_dir = tmp_path / "artifacts"
    shutil.copytree(api_warehouse.artifacts_dir, stale_dir, symlinks=True)
    metadata_file = stale_dir / "models" / "current" / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["learned_until"] = "1990-01-01"
    metadata_file.write_text(json.dumps(metadata))
    with psycopg2.connect(api_warehouse.database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select min(movie_id) filter (where release_date > date '1992-01-01'),"
            " min(movie_id) filter (where release_date < date '1990-06-01')"
            " from marts.dim_movies"
        )
        late, early = cur.fetchone()
    assert late is not None and early is not None
    client = api(TMDB_ARTIFACTS_DIR=str(stale_dir))
    assert client.get("/models/current").json()["learned_until"] == "1990-01-01"
    answered = client.post("/predict", json={"movie_id": late})
    assert answered.status_code == 200, answered.text
    (warning,) = answered.json()["warnings"]
    assert "after the newest release this model learned from (1990-01-01)" in warning
    assert "warnings" not in client.post("/predict", json={"movie_id": early}).json()
    batch = client.post("/predict/batch", json={"items": [{"movie_id": early}, {"movie_id": late}]})
    first, second = batch.json()["predictions"]
    assert "warnings" not in first and second["warnings"] == [warning]
