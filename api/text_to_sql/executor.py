"""Running checked SQL as `tmdb_analyst`: read-only transactions, a server-side timeout, bounded
rows, values made JSON-safe. The role's own limits are the second wall behind the SQL guard.

A result is kept (`result_cache.py`) under the marts' data version, which every run reads first
in its own transaction, so a repeated question costs two catalogue reads instead of its
aggregate, and never returns what the marts no longer say.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg2
from psycopg2 import errors
from psycopg2.pool import ThreadedConnectionPool

from api.text_to_sql.result_cache import ResultCache, read_version

logger = logging.getLogger(__name__)


class QueryTimeout(RuntimeError):
    pass


class QueryFailed(RuntimeError):
    """PostgreSQL rejected the query (bad column, type error…); the message goes back to the LLM."""


class DatabaseUnavailable(RuntimeError):
    pass


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


class QueryExecutor:
    """A small pool of analyst connections; a broken connection (server restart) is replaced."""

    def __init__(
        self,
        url: str,
        *,
        timeout_ms: int = 10_000,
        max_connections: int = 8,
        cache: ResultCache | None = None,
    ) -> None:
        self.url = url
        self.timeout_ms = timeout_ms
        self.max_connections = max_connections
        self.cache = ResultCache() if cache is None else cache
        self._pool: ThreadedConnectionPool | None = None
        self._lock = threading.Lock()
        # psycopg2's pool fails at once when exhausted; callers wait for a free slot instead.
        self._slots = threading.BoundedSemaphore(max_connections)

    def _get_pool(self) -> ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = ThreadedConnectionPool(
                        0, self.max_connections, self.url, connect_timeout=5
                    )
                except psycopg2.OperationalError as exc:
                    raise DatabaseUnavailable("the warehouse is unavailable") from exc
                # Opened on demand (none at start), but kept once open: psycopg2 closes a
                # returned connection when `minconn` are already idle, and with 0 that was
                # every one, so each request paid for a new connection (about 1.7 ms, most of
                # a /predict by id).
                self._pool.minconn = self.max_connections
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if not self._slots.acquire(timeout=self.timeout_ms / 1000 + 5):
            raise DatabaseUnavailable("the warehouse is busy; try again")
        try:
            with self._pooled_connection() as conn:
                yield conn
        finally:
            self._slots.release()

    @contextmanager
    def _pooled_connection(self) -> Iterator[Any]:
        pool = self._get_pool()
        try:
            conn = pool.getconn()
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable("the warehouse is unavailable") from exc
        # A kept connection may have died with its server (a restart, a failover): find out
        # here, where a fresh one can still be taken, rather than in the caller's query.
        try:
            with conn.cursor() as cur:
                cur.execute("select 1")
        except psycopg2.OperationalError:
            pool.putconn(conn, close=True)
            try:
                conn = pool.getconn()
            except psycopg2.OperationalError as exc:
                raise DatabaseUnavailable("the warehouse is unavailable") from exc
        broken = False
        try:
            yield conn
        except psycopg2.OperationalError:
            broken = True
            raise
        finally:
            if not broken and not conn.closed:
                try:
                    conn.rollback()
                except psycopg2.Error:
                    broken = True
            pool.putconn(conn, close=broken or bool(conn.closed))

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """An analyst connection for a few trusted queries (the predictor's lookups)."""
        try:
            with self._connection() as conn:
                yield conn
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable("the warehouse is unavailable") from exc

    def run(self, sql: str, max_rows: int) -> QueryResult:
        """Run one checked query; retried once on a dead connection (e.g. after a restart)."""
        for attempt in (1, 2):
            try:
                return self._run_once(sql, max_rows)
            except psycopg2.OperationalError as exc:
                if attempt == 2:
                    raise DatabaseUnavailable("the warehouse is unavailable") from exc
                logger.info("retrying on a fresh connection after: %s", str(exc).strip()[:120])
        raise AssertionError("unreachable")

    def _run_once(self, sql: str, max_rows: int, *, cached: bool = True) -> QueryResult:
        use_cache = cached and self.cache.may_cache(sql)
        with self._connection() as conn, conn.cursor() as cur:
            self._begin(cur)
            version = self._version(conn, cur) if use_cache else None
            if version is not None:
                try:
                    columns, rows, truncated = self.cache.get(version, sql, max_rows)
                except KeyError:
                    pass
                else:
                    return QueryResult(columns=columns, rows=rows, truncated=truncated)
            try:
                cur.execute(sql)
            except errors.QueryCanceled as exc:
                raise QueryTimeout(
                    f"the query took longer than {self.timeout_ms / 1000:g} s and was stopped"
                ) from exc
            except psycopg2.OperationalError:
                raise
            except psycopg2.Error as exc:
                message = (exc.pgerror or str(exc)).strip().splitlines()[0]
                raise QueryFailed(message) from exc
            columns = [d.name for d in cur.description or []]
            fetched = cur.fetchmany(max_rows + 1)
            rows = [[json_safe(v) for v in row] for row in fetched[:max_rows]]
            truncated = len(fetched) > max_rows
            # Stored only if the version read again is the one read before: the query's
            # snapshot lies between the two reads, so it saw exactly that version's data.
            if (
                version is not None
                and self.cache.fits(len(rows), len(columns))
                and self._version_after(cur) == version
            ):
                self.cache.put(version, sql, max_rows, columns, rows, truncated)
        return QueryResult(columns=columns, rows=rows, truncated=truncated)

    def _begin(self, cur) -> None:
        # READ COMMITTED on purpose, whatever the server's default: each statement takes its
        # snapshot after its locks, which the result cache's two version reads rely on.
        cur.execute("set transaction isolation level read committed, read only")
        cur.execute("select set_config('statement_timeout', %s, true)", (str(self.timeout_ms),))

    def _version(self, conn, cur) -> str | None:
        """The data version, or None (the query then runs uncached, in a clean transaction)."""
        try:
            return read_version(cur)
        except psycopg2.OperationalError:
            raise
        except psycopg2.Error as exc:
            logger.info("running uncached: the data version could not be read: %s", exc)
            conn.rollback()
            self._begin(cur)
            return None

    @staticmethod
    def _version_after(cur) -> str | None:
        try:
            return read_version(cur)
        except psycopg2.Error:
            return None  # not stored; a broken connection is found by the pool's rollback

    def ping(self) -> bool:
        try:
            self._run_once("select 1", 1, cached=False)
            return True
        except (psycopg2.Error, DatabaseUnavailable):
            return False

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None
