"""The daily cycle's bookkeeping in the warehouse: one refresh at a time, and a record of each.

- **The lock.** `tmdb refresh` holds a PostgreSQL advisory lock on a connection of its own for
  its whole run, so a second refresh (another cron tick, a Step Functions retry, a person at a
  terminal) sees it at once and exits. A lock dies with its session: a killed refresh never
  leaves a stale lock behind, which a lock row in a table would. The holder names itself in its
  connection's `application_name` (pid, host, start), which the second refresh reads back from
  `pg_stat_activity` to say who is running.
- **The record.** `tmdb_app.refreshes` keeps one row per refresh (running, succeeded, failed),
  with when it finished, the newest TMDB record the marts it published hold, and its summary.
  `/health`'s `data_as_of` reads the newest successful one.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection

SCHEMA = "tmdb_app"
TABLE = f"{SCHEMA}.refreshes"
# pg_try_advisory_lock(int, int): "tmdb" in ASCII, and the issue that asked for one at a time.
LOCK_KEY = (0x746D6462, 28)
APPLICATION_PREFIX = "tmdb refresh"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    refresh_id bigserial primary key,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    host text,
    pid integer,
    newest_record_at timestamptz,
    model_version text,
    reason text,
    summary jsonb
);
create index if not exists refreshes_succeeded_idx on {TABLE} (finished_at desc)
    where status = 'succeeded';
"""


class RefreshBusy(RuntimeError):
    """Another refresh holds the lock; the message names it."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: datetime

    @property
    def application_name(self) -> str:
        # PostgreSQL keeps 63 bytes of it.
        stamp = self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{APPLICATION_PREFIX} pid {self.pid} on {self.host[:20]} since {stamp}"[:63]


def this_process() -> Holder:
    return Holder(os.getpid(), socket.gethostname(), datetime.now(UTC))


class RefreshLock:
    """The advisory lock, on a dedicated autocommit connection held open for the run."""

    def __init__(self, url: str, holder: Holder | None = None) -> None:
        self.url = url
        self.holder = holder or this_process()
        self._conn: Connection | None = None

    def acquire(self) -> None:
        """Take the lock or raise `RefreshBusy` naming the refresh that holds it; never waits."""
        conn = psycopg2.connect(self.url, application_name=self.holder.application_name)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s, %s)", LOCK_KEY)
            if cur.fetchone()[0]:
                self._conn = conn
                return
            holder = _holder_name(cur)
        conn.close()
        raise RefreshBusy(f"another refresh is running ({holder}); this one exits")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's advisory locks go with it
            self._conn = None

    def __enter__(self) -> RefreshLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder_name(cur) -> str:
    cur.execute(
        "select activity.application_name, activity.pid from pg_locks as locks"
        " inner join pg_stat_activity as activity on activity.pid = locks.pid"
        " where locks.locktype = 'advisory' and locks.granted"
        " and locks.classid = %s and locks.objid = %s and locks.objsubid = 2"
        " and locks.database = (select oid from pg_database where datname = current_database())",
        LOCK_KEY,
    )
    row = cur.fetchone()
    if row is None:  # released between our try and this look
        return "it has just finished"
    name, pid = row
    return name if name and name.startswith(APPLICATION_PREFIX) else f"server pid {pid}"


def ensure_table(conn: Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(DDL)
    conn.commit()


def record_start(conn: Connection, holder: Holder) -> int:
    """A `running` row for this refresh; returns its id."""
    ensure_table(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"insert into {TABLE} (started_at, status, host, pid) values (%s, 'running', %s, %s)"
            " returning refresh_id",
            (holder.started_at, holder.host, holder.pid),
        )
        refresh_id = cur.fetchone()[0]
    conn.commit()
    return refresh_id


def record_end(
    conn: Connection,
    refresh_id: int,
    *,
    succeeded: bool,
    summary: dict[str, Any],
    newest_record_at: datetime | None = None,
    model_version: str | None = None,
    reason: str | None = None,
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"update {TABLE} set finished_at = now(), status = %s, newest_record_at = %s,"
            " model_version = %s, reason = %s, summary = %s where refresh_id = %s",
            (
                "succeeded" if succeeded else "failed",
                newest_record_at,
                model_version,
                reason,
                json.dumps(summary, default=str),
                refresh_id,
            ),
        )
    conn.commit()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # raw_tmdb's `_fetched_at` is UTC without a zone
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _exists(cur, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return bool(cur.fetchone()[0])


def newest_record_at(conn: Connection, schema: str = "marts") -> datetime | None:
    """When the newest movie record the marts in `schema` hold was fetched from TMDB."""
    with conn.cursor() as cur:
        if not _exists(cur, f"{schema}.dim_movies"):
            return None
        cur.execute(f"select max(last_refreshed_at) from {schema}.dim_movies")
        return cur.fetchone()[0]


def data_as_of(conn: Connection) -> dict[str, str | None] | None:
    """`/health`'s `data_as_of`: the newest successful refresh (when it finished, and the newest
    record its marts hold). A warehouse built by `tmdb transform` alone has no refresh yet: it
    still says how new its marts' newest record is. None when there are no marts at all."""
    with conn.cursor() as cur:
        if _exists(cur, TABLE):
            cur.execute(
                f"select finished_at, newest_record_at from {TABLE} where status = 'succeeded'"
                " order by finished_at desc limit 1"
            )
            row = cur.fetchone()
            if row is not None:
                return {"refreshed_at": _iso(row[0]), "newest_record_at": _iso(row[1])}
    newest = newest_record_at(conn)
    if newest is None:
        return None
    return {"refreshed_at": None, "newest_record_at": _iso(newest)}


def latest_refresh_id(conn: Connection) -> int | None:
    """The newest successful refresh's id: a cheap poll for "has the warehouse moved?"."""
    with conn.cursor() as cur:
        if not _exists(cur, TABLE):
            return None
        cur.execute(f"select max(refresh_id) from {TABLE} where status = 'succeeded'")
        return cur.fetchone()[0]
