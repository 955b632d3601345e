"""The TMDB client over real HTTP: auth, 404, retries through faults, 429 honoured.

Pacing and adapting to 429s: test_rate_limit.py.
"""

from __future__ import annotations

import asyncio

import pytest

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN
from ingestion.tmdb.client import (
    RequestStats,
    TmdbAuthError,
    TmdbClient,
    TmdbUnreachable,
)
from tests.conftest import free_port


def _without_fetch_time(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "_fetched_at"}


async def _fetch_all(base_url: str, ids: list[int], **options) -> tuple[list, RequestStats]:
    stats = RequestStats()
    async with TmdbClient(f"{base_url}/3", token=FAKE_TMDB_TOKEN, stats=stats, **options) as client:
        records = await asyncio.gather(*(client.movie_details(movie_id) for movie_id in ids))
    return records, stats


def test_details_survive_faults_with_retries(fake_tmdb) -> None:
    server = fake_tmdb(movies=120, fault_rate=0.3)
    catalogue = server.catalogue
    ids = catalogue.movie_ids(include_adult=False)[:60]
    records, stats = asyncio.run(_fetch_all(server.url, ids, max_concurrency=8))
    assert [_without_fetch_time(record) for record in records] == [
        catalogue.details(movie_id) for movie_id in ids
    ]
    assert all(record["_fetched_at"].endswith("+00:00") for record in records)
    assert stats.retried > 0 and stats.requests > len(ids)


def test_unknown_id_is_none_not_an_error(fake_tmdb) -> None:
    server = fake_tmdb(movies=20)
    records, _ = asyncio.run(_fetch_all(server.url, [999_999_999]))
    assert records == [None]


def test_429_is_honoured_and_nothing_is_lost(fake_tmdb) -> None:
    server = fake_tmdb(movies=80, rate_limit=20)
    ids = server.catalogue.movie_ids(include_adult=False)[:50]
    records, stats = asyncio.run(_fetch_all(server.url, ids, max_concurrency=16))
    assert all(record is not None for record in records)
    assert stats.rate_limited > 0 and server.rate_limited > 0


def test_bad_credentials_fail_fast(fake_tmdb) -> None:
    server = fake_tmdb(movies=20)

    async def run() -> None:
        async with TmdbClient(f"{server.url}/3", token="wrong") as client:
            await client.check_access()

    with pytest.raises(TmdbAuthError, match="rejected the credentials"):
        asyncio.run(run())


def test_api_key_style_credentials_work(fake_tmdb) -> None:
    server = fake_tmdb(movies=20)
    movie_id = server.catalogue.movie_ids(include_adult=False)[0]

    async def run() -> dict | None:
        async with TmdbClient(f"{server.url}/3", api_key=FAKE_TMDB_TOKEN) as client:
            return await client.movie_details(movie_id)

    assert asyncio.run(run())["id"] == movie_id


def test_unreachable_api_is_one_clear_error() -> None:
    async def run() -> None:
        url = f"http://127.0.0.1:{free_port()}/3"
        async with TmdbClient(url, token="any") as client:
            await client.check_access()

    with pytest.raises(TmdbUnreachable, match="cannot reach the TMDB API"):
        asyncio.run(run())


def test_no_credentials_is_an_auth_error() -> None:
    with pytest.raises(TmdbAuthError, match="TMDB_API_TOKEN"):
        TmdbClient("http://127.0.0.1:1/3")
