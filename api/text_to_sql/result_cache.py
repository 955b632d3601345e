"""Query results kept for as long as the marts they were computed from are unchanged.

At the catalogue's size an aggregate over the marts costs 80-250 ms however it is planned,
while the questions asked of it repeat (the page's "Try" questions, the Explore view, a
dashboard polling `/metrics/query`). A result is looked up by (data version, SQL, row limit),
where the data version is read from PostgreSQL by the request itself, so a change to the marts
is seen by the very next request. It can never serve a stale answer because:

- **The version covers everything a cached query can read.** Only a query the guard accepts
  as reading `marts` alone, and that names nothing time- or session-dependent (`now()`,
  `'today'`...), is cached (`may_cache`), so the version is a fingerprint of `marts` itself:
  the schema's oid and grants (the refresh swap renames schemas), each relation's oid, name,
  kind, file node and grants, and each table's columns (a dbt rebuild, a truncate or a
  rewrite gives a new file node, a rename a new name), plus `tmdb_app.marts_version`, a
  counter every write in place bumps in the writer's own transaction (the dbt post-hook
  `bump_marts_version`). Any committed change to what a query reads changes the version, and
  never back to an earlier one: the counter only grows, and file nodes and oids are fresh.
- **A result is stored only if the version did not move while it was computed.** The executor
  reads the version, runs the query, and reads the version again, each statement with its own
  snapshot (READ COMMITTED): the query's snapshot lies between the two reads and is taken
  after the query holds its locks, so equal reads mean the query saw exactly the data of that
  version. (A single REPEATABLE READ snapshot would not do: a table rebuilt after the snapshot
  but before the query's lock looks empty to it, as PostgreSQL documents for TRUNCATE.)
- **A hit is served only in a transaction that has just read the same version**, so it is the
  answer the query would give now.
- **No version, no cache.** A warehouse without the counter (built before it existed), a
  `marts` that holds a view (whose data lives elsewhere) or a query that reads anything else
  runs as it always did. Errors are never stored.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from api.text_to_sql.guard import UnsafeSql, check_sql

#: Entries kept; the oldest used goes first.
MAX_ENTRIES = 256
#: Cells (rows x columns) kept across all entries, and in one entry: a bound on memory.
MAX_CELLS = 500_000
MAX_ENTRY_CELLS = 100_000
#: Cacheability decisions remembered (each costs a parse).
MAX_DECISIONS = 1_024

#: Words that make a result depend on when or by whom it is computed, not only on the data:
#: the clock (functions and the date literals 'now', 'today'...), the session, the server.
#: Matched anywhere in the text, string literals included: a false match only skips the cache.
_UNCACHEABLE_WORDS = re.compile(
    r"\b(now|today|tomorrow|yesterday|current_\w*|localtime\w*|age|clock_timestamp"
    r"|statement_timestamp|transaction_timestamp|timeofday|random\w*|setseed|nextval|currval"
    r"|lastval|txid\w*|pg_\w+|inet_\w+"
    r"|user|session_user|system_user|version|gen_random_\w+|uuid\w*)\b",
    re.IGNORECASE,
)

#: The data version: one catalogue query, never an error. `readable` says whether the counter
#: exists and the caller may read it; `ok` whether every relation in `marts` holds its own
#: data (a view, materialized view, foreign or partitioned table reads data elsewhere).
FINGERPRINT_SQL = """
with marts as (
    select oid, nspacl from pg_namespace where nspname = 'marts'
),

relations as (
    select c.oid, c.relname, c.relkind, c.relfilenode, c.relacl
    from pg_class as c inner join marts on c.relnamespace = marts.oid
),

counter as (
    select c.oid, c.relnamespace
    from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid
    where n.nspname = 'tmdb_app' and c.relname = 'marts_version'
)

select
    (select count(*) from marts) = 1
    and not exists (
        select from relations where relkind not in ('r', 'i', 'I', 'S', 'c')
    ) as ok,
    coalesce(
        (
            select has_schema_privilege(relnamespace, 'usage')
                and has_table_privilege(oid, 'select')
            from counter
        ),
        false
    ) as readable,
    (select oid::text || coalesce(nspacl::text, '') from marts)
    || ';' || coalesce((
        select encode(sha256(convert_to(string_agg(
            row(oid, relname, relkind, relfilenode, relacl)::text, ';' order by oid
        ), 'UTF8')), 'hex')
        from relations
    ), '')
    || ';' || coalesce((
        select encode(sha256(convert_to(string_agg(
            row(a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attisdropped)::text,
            ';' order by a.attrelid, a.attnum
        ), 'UTF8')), 'hex')
        from pg_attribute as a inner join relations as r on a.attrelid = r.oid
        where r.relkind = 'r' and a.attnum > 0
    ), '') as fingerprint
"""

COUNTER_SQL = "select version from tmdb_app.marts_version"


def read_version(cur) -> str | None:
    """The data version seen by this statement's snapshot, or None when there is none to key by.

    Raises psycopg2 errors only if the counter vanished between the two statements (the
    caller then runs its query uncached, in a fresh transaction)."""
    cur.execute(FINGERPRINT_SQL)
    ok, readable, fingerprint = cur.fetchone()
    if not (ok and readable):
        return None
    cur.execute(COUNTER_SQL)
    rows = cur.fetchall()
    if len(rows) != 1 or rows[0][0] is None:
        return None
    return f"{rows[0][0]};{fingerprint}"


@dataclass(frozen=True)
class CachedResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    nested: bool  # some value is a list or dict, copied deeply on the way out

    @property
    def cells(self) -> int:
        return max(1, len(self.rows) * max(1, len(self.columns)))


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class ResultCache:
    """A thread-safe LRU of query results, bounded in entries and cells.

    What goes in is copied and what comes out is a fresh copy, so no caller can change
    another's answer."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_cells: int = MAX_CELLS,
        max_entry_cells: int = MAX_ENTRY_CELLS,
    ) -> None:
        self.max_entries = max_entries
        self.max_cells = max_cells
        self.max_entry_cells = max_entry_cells
        self._entries: OrderedDict[tuple[str, str, int], CachedResult] = OrderedDict()
        self._cells = 0
        self._decisions: OrderedDict[str, bool] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def may_cache(self, sql: str) -> bool:
        """Whether the result of `sql` is a function of the marts' data alone: the guard
        accepts it as a query over `marts` (whatever tables it names there) and it names
        nothing that depends on the clock, the session or the server."""
        if self.max_entries <= 0:
            return False
        with self._lock:
            decision = self._decisions.get(sql)
            if decision is not None:
                self._decisions.move_to_end(sql)
                return decision
        decision = _reads_marts_data_only(sql)
        with self._lock:
            self._decisions[sql] = decision
            while len(self._decisions) > MAX_DECISIONS:
                self._decisions.popitem(last=False)
        return decision

    def get(self, version: str, sql: str, max_rows: int) -> tuple[list[str], list[list[Any]], bool]:
        """(columns, rows, truncated) stored for exactly this version, SQL and limit, or a
        KeyError."""
        key = (version, sql, max_rows)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                raise KeyError(key)
            self._entries.move_to_end(key)
            self.hits += 1
        if entry.nested:
            rows = [[_copy(v) for v in row] for row in entry.rows]
        else:
            rows = [list(row) for row in entry.rows]
        return list(entry.columns), rows, entry.truncated

    def fits(self, rows: int, columns: int) -> bool:
        """Whether a result of this size would be kept (a larger one is not even copied)."""
        return self.max_entries > 0 and max(1, rows * max(1, columns)) <= self.max_entry_cells

    def put(
        self,
        version: str,
        sql: str,
        max_rows: int,
        columns: list[str],
        rows: list[list[Any]],
        truncated: bool,
    ) -> None:
        if not self.fits(len(rows), len(columns)):
            return
        nested = any(isinstance(v, list | dict) for row in rows for v in row)
        entry = CachedResult(
            columns=tuple(columns),
            rows=tuple(tuple(_copy(v) for v in row) if nested else tuple(row) for row in rows),
            truncated=truncated,
            nested=nested,
        )
        key = (version, sql, max_rows)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._cells -= old.cells
            self._entries[key] = entry
            self._cells += entry.cells
            while self._entries and (
                len(self._entries) > self.max_entries or self._cells > self.max_cells
            ):
                _, evicted = self._entries.popitem(last=False)
                self._cells -= evicted.cells

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._cells = 0


def _reads_marts_data_only(sql: str) -> bool:
    if _UNCACHEABLE_WORDS.search(sql):
        return False
    try:
        qualified: set[str] = set()
        unqualified: set[str] = set()
        for tree in sqlglot.parse(sql, read="postgres"):
            for table in tree.find_all(exp.Table) if tree is not None else ():
                if isinstance(table.this, exp.Identifier):
                    name = table.name if table.this.quoted else table.name.lower()
                    (qualified if table.args.get("db") else unqualified).add(name)
        # The guard then refuses a relation outside `marts`, and an unqualified name that is
        # no CTE in scope (left to the search path by the text we run; the guard would qualify
        # an allowed one), and everything else it refuses.
        check_sql(sql, allowed_tables=qualified - unqualified, limit=1 << 62)
    except (UnsafeSql, ValueError, sqlglot.errors.SqlglotError):
        return False
    return True
