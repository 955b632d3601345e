"""The executor's result cache never answers with what the marts no longer say.

Each test builds a small `marts` by hand in a fresh database, with the data-version counter
created by the same dbt macro the build runs (rendered here with Jinja), and asks through the
real executor as `tmdb_analyst`. That a repeat is served from the cache, without reading the
table, is shown by changing the table's rows *without* bumping the counter: the cached answer
comes back, which a query would not have returned. Every way the marts really change (a dbt
rebuild, a truncate, a write in place with its bump, the refresh's schema swap) must then give
the new answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import jinja2
import psycopg2
import pytest

from api.text_to_sql import executor as executor_module
from api.text_to_sql.executor import QueryExecutor, QueryFailed
from api.text_to_sql.result_cache import ResultCache
from tests.api.conftest import wait_until_ready
from tests.conftest import REPO_ROOT
from warehouse.connection import analyst_url
from warehouse.roles import ensure_analyst_role
from warehouse.settings import Settings
from warehouse.shadow_marts import swap_in

MACROS = REPO_ROOT / "dbt_project" / "macros" / "marts_version.sql"
TOTAL = "select count(*) as films, sum(revenue_usd) as revenue from marts.films"


def macro_sql(call: str) -> str:
    """What dbt runs for `call` (a macro of dbt_project/macros/marts_version.sql)."""
    return jinja2.Environment().from_string(MACROS.read_text() + "{{ " + call + " }}").render()


CREATE_COUNTER = macro_sql("create_marts_version_table('tmdb_analyst')")
BUMP = macro_sql("bump_marts_version()")


def films_table(cur, schema: str, rows: list[tuple[int, int]], name: str = "films") -> None:
    cur.execute(f"create table {schema}.{name} (film_id int primary key, revenue_usd bigint)")
    cur.executemany(f"insert into {schema}.{name} values (%s, %s)", rows)
    cur.execute(f"grant select on {schema}.{name} to tmdb_analyst")


@pytest.fixture
def owner(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """The owner's connection to a fresh database with marts.films (3 films) and the counter."""
    conn = psycopg2.connect(database_url)
    ensure_analyst_role(conn)
    with conn.cursor() as cur:
        cur.execute("create schema marts")
        cur.execute("grant usage on schema marts to tmdb_analyst")
        films_table(cur, "marts", [(1, 100), (2, 200), (3, 300)])
        cur.execute(CREATE_COUNTER)
    conn.commit()
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture
def executor(owner) -> Iterator[QueryExecutor]:
    executor = QueryExecutor(analyst_url(Settings()))
    yield executor
    executor.close()


def write(owner, *statements: str) -> None:
    with owner.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    owner.commit()


def total(executor: QueryExecutor) -> list:
    return executor.run(TOTAL, 10).rows[0]


def test_a_repeat_is_served_from_the_cache_until_a_write_bumps_the_version(owner, executor):
    assert total(executor) == [3, 600]
    # A change the counter is not told of is invisible to the cache: the answer of before
    # comes back, so the repeat did not read the table.
    write(owner, "update marts.films set revenue_usd = 1000 where film_id = 1")
    assert total(executor) == [3, 600]
    assert executor.cache.hits == 1
    # Once bumped, the next request reads the table again.
    write(owner, BUMP)
    assert total(executor) == [3, 1500]
    assert total(executor) == [3, 1500] and executor.cache.hits == 2
    # The limit is part of the key: the same SQL with another limit runs afresh.
    write(owner, "update marts.films set revenue_usd = 2000 where film_id = 1")
    assert executor.run(TOTAL, 5).rows == [[3, 2500]]


def test_an_insert_and_its_bump_in_one_transaction_invalidate(owner, executor):
    assert total(executor) == [3, 600]
    write(owner, "insert into marts.films values (4, 400)", BUMP)
    assert total(executor) == [4, 1000]


def test_an_uncommitted_write_is_not_seen_and_its_commit_is(owner, executor):
    assert total(executor) == [3, 600]
    with owner.cursor() as cur:  # an incremental model mid-run: rows and bump, not committed
        cur.execute("insert into marts.films values (4, 400)")
        cur.execute(BUMP)
        # The cached answer is still the committed truth, and a fresh read agrees with it.
        assert total(executor) == [3, 600]
        assert executor.run(TOTAL + " where film_id > 0", 10).rows == [[3, 600]]
    owner.commit()
    assert total(executor) == [4, 1000]


def test_a_dbt_style_rebuild_invalidates_without_a_bump(owner, executor):
    assert total(executor) == [3, 600]
    with owner.cursor() as cur:  # dbt's table materialization: build beside, rename over
        films_table(cur, "marts", [(1, 10), (2, 20)], name="films__dbt_tmp")
        cur.execute("alter table marts.films rename to films__dbt_backup")
        cur.execute("alter table marts.films__dbt_tmp rename to films")
        cur.execute("drop table marts.films__dbt_backup")
    owner.commit()
    assert total(executor) == [2, 30]


def test_a_truncate_invalidates_without_a_bump(owner, executor):
    assert total(executor) == [3, 600]
    write(owner, "truncate marts.films")
    assert total(executor) == [0, None]


def test_the_refresh_schema_swap_invalidates(owner, executor):
    assert total(executor) == [3, 600]
    with owner.cursor() as cur:
        cur.execute("create schema marts__next")
        films_table(cur, "marts__next", [(1, 5)])
    owner.commit()
    assert total(executor) == [3, 600]  # building the shadow changes nothing served
    assert swap_in(owner) is True
    assert total(executor) == [1, 5]


def test_a_renamed_column_or_a_revoked_grant_is_not_answered_from_the_cache(owner, executor):
    assert total(executor) == [3, 600]
    write(owner, "alter table marts.films rename column revenue_usd to gross_usd")
    with pytest.raises(QueryFailed, match="revenue_usd"):
        total(executor)
    write(owner, "alter table marts.films rename column gross_usd to revenue_usd")
    assert total(executor) == [3, 600]
    write(owner, "revoke select on marts.films from tmdb_analyst")
    with pytest.raises(QueryFailed, match="permission denied"):
        total(executor)


def test_an_error_is_never_stored(owner, executor):
    # 1 / (films - 3): an error while there are three films, an answer otherwise.
    risky = "select 1 / (count(*) - 3) as x from marts.films"
    with pytest.raises(QueryFailed, match="division by zero"):
        executor.run(risky, 1)
    write(owner, "insert into marts.films values (4, 400)")  # no bump: same version
    assert executor.run(risky, 1).rows == [[1]]
    assert len(executor.cache) == 1


def test_a_write_committed_while_the_query_runs_is_not_stored(owner, executor, monkeypatch):
    """The version read before the query and the one read after differ: the result is
    returned (it is the newer data's, read after the commit) but kept under neither."""
    reads = []

    def read_then_commit_a_write(cur):
        version = real_read_version(cur)
        if not reads:
            write(owner, "insert into marts.films values (4, 400)", BUMP)
        reads.append(version)
        return version

    real_read_version = executor_module.read_version
    monkeypatch.setattr(executor_module, "read_version", read_then_commit_a_write)
    assert total(executor) == [4, 1000]
    assert reads[0] != reads[1] and len(executor.cache) == 0
    write(owner, "update marts.films set revenue_usd = 0")  # not bumped: only a read sees it
    assert total(executor) == [4, 0]


def test_without_the_counter_nothing_is_cached(owner, executor):
    write(owner, "drop table tmdb_app.marts_version")
    assert total(executor) == [3, 600]
    write(owner, "update marts.films set revenue_usd = 1000 where film_id = 1")
    assert total(executor) == [3, 1500]
    assert len(executor.cache) == 0


def test_a_marts_view_turns_the_cache_off(owner, executor):
    """A view's rows live elsewhere: the marts' fingerprint cannot see them change."""
    with owner.cursor() as cur:
        cur.execute("create schema elsewhere")
        films_table(cur, "elsewhere", [(1, 1)])
        cur.execute("create view marts.elsewhere_films as select * from elsewhere.films")
        cur.execute("grant select on marts.elsewhere_films to tmdb_analyst")
    owner.commit()
    view = "select sum(revenue_usd) as revenue from marts.elsewhere_films"
    assert executor.run(view, 1).rows == [[1]]
    write(owner, "update elsewhere.films set revenue_usd = 2")
    assert executor.run(view, 1).rows == [[2]]
    assert len(executor.cache) == 0


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from marts.films where film_id < extract(day from now())",
        "select count(*) from marts.films where current_date > date '2000-01-01'",
        "select count(*) from marts.films where date 'today' > date '2000-01-01'",
        "select count(*) from marts.films where age(date '2000-01-01') > interval '1 day'",
    ],
)
def test_a_query_that_reads_the_clock_is_not_cached(owner, executor, sql):
    assert executor.run(sql, 1).rows == [[3]]
    write(owner, "insert into marts.films values (4, 400)")  # no bump
    assert executor.run(sql, 1).rows == [[4]]


@pytest.mark.parametrize(
    ("sql", "cacheable"),
    [
        (TOTAL, True),
        ("with f as (select * from marts.films) select count(*) from f", True),
        ("select 1", True),
        ("select count(*) from public.films", False),  # outside marts
        ("select count(*) from films", False),  # unqualified: the search path decides
        ("with f as (select 1) select * from (with g as (select 1) select 1) s, g", False),
        # "films" out of its CTE's scope is public.films, not marts.films named beside it
        ("select * from marts.films, (with films as (select 1) select 1) s, films", False),
        ("select pg_backend_pid()", False),
        ("select count(*) from marts.films where 'now'::date > date '2000-01-01'", False),
        ("delete from marts.films", False),
        ("select count(*) from marts.films; select 1", False),
        ("select (", False),
    ],
)
def test_what_may_be_cached(sql, cacheable):
    assert ResultCache().may_cache(sql) is cacheable


def test_the_cache_is_bounded_and_hands_out_copies():
    cache = ResultCache(max_entries=2, max_cells=10, max_entry_cells=6)
    cache.put("v", "a", 5, ["x"], [[1], [2]], False)
    cache.put("v", "b", 5, ["x", "y"], [[1, [1, 2]]], False)
    columns, rows, _ = cache.get("v", "b", 5)
    rows[0][1].append(3)
    columns.append("z")
    assert cache.get("v", "b", 5) == (["x", "y"], [[1, [1, 2]]], False)
    cache.put("v", "c", 5, ["x"], [[3]], False)  # a third entry: the least recently used goes
    with pytest.raises(KeyError):
        cache.get("v", "a", 5)
    cache.put("v", "d", 5, ["x"], [[i] for i in range(7)], False)  # too large to keep
    with pytest.raises(KeyError):
        cache.get("v", "d", 5)
    cache.put("v", "e", 5, ["x", "y"], [[1, 2], [3, 4], [5, 6]], False)  # 6 cells: 2 + 6 <= 10
    cache.put("v", "f", 5, ["x", "y"], [[1, 2], [3, 4]], False)  # 6 + 4 <= 10, "c" went first
    assert len(cache) == 2
    with pytest.raises(KeyError):
        cache.get("v", "c", 5)
    with pytest.raises(KeyError):
        cache.get("w", "f", 5)  # another version is another key
    assert cache.get("v", "f", 5)[1] == [[1, 2], [3, 4]]


def test_the_api_answers_a_repeat_from_the_cache_and_a_bump_ends_it(api, api_warehouse) -> None:
    """/metrics/query and /ask-text over the built warehouse: the second asking is a hit
    with the same answer; after the build's bump (data unchanged) it is computed again."""
    client = api(ASK_ENGINE="builtin")
    assert wait_until_ready(client)["status"] == "ok"
    cache = client.app.state.tmdb.executor.cache
    metric = {"metrics": ["movies", "total_revenue_usd"], "group_by": ["genre__genre_name"]}
    question = {"question": "How many movies are there?"}
    for path, body in (("/metrics/query", metric), ("/ask-text", question)):
        first = client.post(path, json=body)
        assert first.status_code == 200, first.text
        hits, misses = cache.hits, cache.misses
        assert _answer(client.post(path, json=body)) == _answer(first)
        assert cache.hits > hits and cache.misses == misses, path  # every query a hit
        conn = psycopg2.connect(api_warehouse.database_url)
        try:
            write(conn, BUMP)
        finally:
            conn.close()
        hits, misses = cache.hits, cache.misses
        assert _answer(client.post(path, json=body)) == _answer(first)
        assert cache.hits == hits and cache.misses > misses, path  # every query run again


def _answer(response) -> dict:
    """The body without what differs on every call (a follow-up's new conversation)."""
    return {k: v for k, v in response.json().items() if k != "conversation_id"}
