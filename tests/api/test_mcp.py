"""`tmdb mcp`, driven by the official SDK's stdio client as an agent would: the same governed
metrics, guard, answers and predictions as the HTTP API."""

from __future__ import annotations

import json
import os
import sys

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.api.conftest import app_env
from tests.conftest import REPO_ROOT, query
from tests.fake_gemini import FakeGemini
from tests.shared_fixtures import ApiWarehouse


def _server(api_warehouse: ApiWarehouse, gemini: FakeGemini) -> StdioServerParameters:
    env = {**os.environ, **app_env(api_warehouse, gemini)}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "cli.main", "mcp"], env=env, cwd=str(REPO_ROOT)
    )


def _session(api_warehouse, gemini, steps):
    """Run `steps(session)` against a fresh `tmdb mcp` process; return what it returns."""

    async def main():
        async with (
            stdio_client(_server(api_warehouse, gemini)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await steps(session)

    return anyio.run(main)


def _structured(result) -> dict:
    assert not result.isError, result.content
    return result.structuredContent or json.loads(result.content[0].text)


def test_an_agent_lists_and_queries_the_governed_metrics(api_warehouse, gemini) -> None:
    async def steps(session: ClientSession):
        tools = {tool.name for tool in (await session.list_tools()).tools}
        listed = await session.call_tool("list_metrics", {})
        by_genre = await session.call_tool(
            "query_metrics",
            {"metrics": ["movies"], "group_by": ["genre__genre_name"], "order_by": ["-movies"]},
        )
        misspelt = await session.call_tool("query_metrics", {"metrics": ["sucess_rate"]})
        hostile = await session.call_tool(
            "query_metrics",
            {
                "metrics": ["movies"],
                "where": ["{{ Dimension('genre__genre_name') }} = 'x' or (select 1 from pg_user)"],
            },
        )
        return tools, listed, by_genre, misspelt, hostile

    tools, listed, by_genre, misspelt, hostile = _session(api_warehouse, gemini, steps)
    assert tools == {"list_metrics", "query_metrics", "ask", "predict"}
    catalog = _structured(listed)
    names = {m["name"]: m for m in catalog["metrics"]}
    assert "success_rate" in names and names["success_rate"]["description"]
    assert "genre__genre_name" in names["movies"]["dimensions"]

    result = _structured(by_genre)
    assert result["columns"] == ["genre__genre_name", "movies"]
    expected = dict(
        query(
            api_warehouse.database_url,
            "select genre_name, count(*) from marts.fct_movie_genres group by 1",
        )
    )
    assert {row[0]: row[1] for row in result["rows"]} == expected
    counts = [row[1] for row in result["rows"]]
    assert counts == sorted(counts, reverse=True)

    assert misspelt.isError
    assert "invalid_input" in misspelt.content[0].text
    assert "success_rate" in misspelt.content[0].text  # the closest valid name
    assert hostile.isError and "invalid_input: the where filter" in hostile.content[0].text


def test_an_agent_asks_a_question_and_gets_a_prediction(api, api_warehouse, gemini) -> None:
    gemini.respond_with(
        lambda request: (
            {
                "metric_query": {"metrics": ["success_rate"]},
                "chart": None,
                "reasoning": "the governed metric",
            }
            if FakeGemini.wants_json(request)
            else "About a third of labelled movies succeed."
        )
    )
    (movie_id,) = query(api_warehouse.database_url, "select min(movie_id) from marts.dim_movies")[0]
    over_http = api().post("/predict", json={"movie_id": movie_id}).json()

    async def steps(session: ClientSession):
        asked = await session.call_tool("ask", {"question": "What is the overall hit rate?"})
        known = await session.call_tool("predict", {"movie": {"movie_id": movie_id}})
        bad = await session.call_tool("predict", {"movie": {"movie_id": movie_id, "budget_usd": 1}})
        return asked, known, bad

    asked, known, bad = _session(api_warehouse, gemini, steps)
    answer = _structured(asked)
    assert answer["route"] == "semantic" and answer["engine"] == "gemini-test-flash"
    assert answer["answer"] == "About a third of labelled movies succeed."
    (rate,) = query(
        api_warehouse.database_url,
        "select count(*) filter (where is_commercial_success)::float"
        " / count(is_commercial_success) from marts.dim_movies",
    )[0]
    assert answer["rows"][0][0] == pytest.approx(rate)
    # with the next questions the built-in engine checked, as POST /ask gives them
    assert 1 <= len(answer["suggestions"]) <= 3
    assert (
        answer["suggestions"]
        == api()
        .post("/ask", json={"question": "What is the overall hit rate?"})
        .json()["suggestions"]
    )

    # the tool's typed answer spells "no warnings" as null; HTTP leaves empty fields out
    prediction = {k: v for k, v in _structured(known).items() if v is not None}
    assert prediction == over_http
    assert bad.isError and "give either movie_id" in bad.content[0].text  # checked by the schema
