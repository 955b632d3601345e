"""Follow-up questions: conversations stored in PostgreSQL, read by any API worker, owned by
their API key, bounded and expiring; the built-in engine edits the previous metric query."""

from __future__ import annotations

import math
import time
import uuid

import psycopg2
import pytest

from tests.conftest import query
from tests.shared_fixtures import ApiWarehouse
from warehouse.connection import analyst_url
from warehouse.settings import Settings

RATE = (
    "count(*) filter (where m.is_commercial_success)::float"
    " / nullif(count(m.is_commercial_success), 0)"
)


def _close(got: dict, expected: dict) -> None:
    expected = {k: v for k, v in expected.items() if v is not None}
    got = {k: v for k, v in got.items() if v is not None}
    assert got.keys() == expected.keys() and expected
    for key, value in expected.items():
        assert math.isclose(got[key], value), key


def test_three_follow_ups_give_the_figures_of_hand_written_sql(api, api_warehouse) -> None:
    url = api_warehouse.database_url
    workers = [api(GEMINI_API_KEY=""), api(GEMINI_API_KEY="")]  # two API workers, one store
    first = workers[0].post("/ask-text", json={"question": "success rate by genre"}).json()
    cid = first["conversation_id"]
    turn = iter([1, 0, 1])

    def follow(question: str) -> dict:
        client = workers[next(turn)]
        response = client.post("/ask-text", json={"question": question, "conversation_id": cid})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["conversation_id"] == cid and body["engine"] == "builtin"
        return body

    since = follow("and only since 2010?")
    _close(
        {r[0]: r[1] for r in since["rows"]},
        dict(
            query(
                url,
                f"select b.genre_name, {RATE} from marts.bridge_movie_genres as b"
                " inner join marts.dim_movies as m on b.movie_id = m.movie_id"
                " where m.release_date >= '2010-01-01' group by 1",
            )
        ),
    )
    by_year = follow("now by year instead")
    hand_years = dict(
        query(
            url,
            f"select extract(year from m.release_date)::int, {RATE} from marts.dim_movies as m"
            " where m.release_date >= '2010-01-01' group by 1",
        )
    )
    _close({int(r[0][:4]): r[1] for r in by_year["rows"]}, hand_years)
    top = follow("just the top 5")
    assert [r[1] for r in top["rows"]] == pytest.approx(
        sorted((v for v in hand_years.values() if v is not None), reverse=True)[:5]
    )
    assert "following up" in " ".join(top["understood"])


def test_two_workers_share_a_conversation_and_keys_own_theirs(api, api_warehouse) -> None:
    keys = {"API_KEYS": "key-one,key-two", "GEMINI_API_KEY": ""}
    worker_a, worker_b = api(**keys), api(**keys)
    one = {"X-API-Key": "key-one"}
    started = worker_a.post("/ask-text", json={"question": "movies by genre"}, headers=one)
    cid = started.json()["conversation_id"]
    followed = worker_b.post(
        "/ask-text", json={"question": "and only since 2015?", "conversation_id": cid}, headers=one
    )
    assert followed.status_code == 200, followed.text
    assert followed.json()["metric_query"]["group_by"] == ["genre__genre_name"]
    for headers, conversation in (
        ({"X-API-Key": "key-two"}, cid),
        (one, "00000000-0000-0000-0000-000000000000"),
        (one, "not-a-uuid"),
    ):
        refused = worker_b.post(
            "/ask-text",
            json={"question": "and since 2000?", "conversation_id": conversation},
            headers=headers,
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "not_found"


def test_conversations_are_bounded_expire_and_stay_out_of_the_analysts_reach(
    api, api_warehouse: ApiWarehouse
) -> None:
    client = api(GEMINI_API_KEY="", CONVERSATION_MAX_TURNS="2")
    cid = client.post("/ask-text", json={"question": "movies by genre"}).json()["conversation_id"]
    for question in ("and only since 2000?", "just the top 3"):
        body = {"question": question, "conversation_id": cid}
        assert client.post("/ask-text", json=body).status_code == 200
    [[turns]] = query(
        api_warehouse.database_url,
        f"select count(*) from tmdb_app.conversation_turns where conversation_id = '{cid}'",
    )
    assert turns == 2
    analyst = analyst_url(Settings(database_url=api_warehouse.database_url))
    with (
        psycopg2.connect(analyst) as conn,
        conn.cursor() as cur,
        pytest.raises(psycopg2.errors.InsufficientPrivilege),
    ):
        cur.execute("select * from tmdb_app.conversations")

    brief = api(GEMINI_API_KEY="", CONVERSATION_TTL_HOURS="0.0002")  # 0.72 s
    cid = brief.post("/ask-text", json={"question": "movies by genre"}).json()["conversation_id"]
    time.sleep(1.5)
    late = brief.post("/ask-text", json={"question": "and since 2000?", "conversation_id": cid})
    assert late.status_code == 404
    brief.post("/ask-text", json={"question": "movies by genre"})  # starting one sweeps
    [[left]] = query(
        api_warehouse.database_url,
        f"select count(*) from tmdb_app.conversation_turns where conversation_id = '{cid}'",
    )
    assert left == 0


def test_tmdb_ask_continues_a_conversation_and_tmdb_chat_follows_up(
    api_warehouse, monkeypatch
) -> None:
    import re

    from typer.testing import CliRunner

    from cli.main import app
    from warehouse.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", api_warehouse.database_url)
    monkeypatch.setenv("DBT_TARGET_PATH", str(api_warehouse.dbt_target))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    reset_settings_cache()
    runner = CliRunner()
    first = runner.invoke(app, ["ask", "movies by genre"])
    assert first.exit_code == 0, first.output
    cid = re.search(r"conversation ([0-9a-f-]{36})", first.output)[1]
    follow = runner.invoke(app, ["ask", "and only since 2015?", "--conversation", cid])
    assert follow.exit_code == 0, follow.output
    assert "since 2015" in follow.output and cid in follow.output
    unknown = runner.invoke(app, ["ask", "and since 2000?", "--conversation", "nope"])
    assert unknown.exit_code == 1 and "no such conversation" in unknown.output

    session = "success rate by genre\nand only since 2010?\n/sql\n/new\n/sql\n/quit\n"
    chat = runner.invoke(app, ["chat"], input=session)
    reset_settings_cache()
    assert chat.exit_code == 0, chat.output
    assert "following up" in chat.output and "since 2010" in chat.output
    assert "'2010-01-01'" in chat.output  # /sql printed the follow-up's query
    assert "no query yet" in chat.output  # /sql after /new


def test_a_follow_up_with_the_warehouse_down_is_a_clean_503(api) -> None:
    client = api(
        GEMINI_API_KEY="",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
        ANALYST_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
    )
    response = client.post(
        "/ask-text",
        json={
            "question": "and since 2000?",
            "conversation_id": str(uuid.UUID(int=0)),
        },
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
