"""Conversations: the earlier turns a follow-up question is read against, in PostgreSQL.

They live in the service's own schema (`tmdb_app`, owned by the warehouse owner; of it
`tmdb_analyst` reads only the marts' data version), so two API workers share them and a restart
loses none. A conversation belongs to the API key that started it (its SHA-256, never the key):
another key, an unknown id and an expired one all answer `not_found`. Turns are bounded (the
oldest are dropped) and expire; expired conversations are deleted when the next one starts.
Question text is stored as data and only ever reaches a model inside a data block.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg2

from api.text_to_sql.executor import DatabaseUnavailable

SCHEMA = "tmdb_app"
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.conversations (
    conversation_id uuid primary key,
    owner text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create table if not exists {SCHEMA}.conversation_turns (
    conversation_id uuid not null references {SCHEMA}.conversations on delete cascade,
    turn integer not null,
    question text not null,
    route text not null,
    metric_query jsonb,
    sql text not null,
    chart jsonb,
    created_at timestamptz not null default now(),
    primary key (conversation_id, turn)
);
create index if not exists conversations_expires_at on {SCHEMA}.conversations (expires_at);
"""


class ConversationNotFound(LookupError):
    """Unknown, expired, or another key's conversation: all the same to the caller."""


@dataclass(frozen=True)
class Turn:
    question: str
    route: str
    sql: str
    metric_query: dict[str, Any] | None = None
    chart: dict[str, Any] | None = None


def owner_of(api_key: str | None) -> str:
    return hashlib.sha256((api_key or "").encode()).hexdigest()


class ConversationStore:
    def __init__(self, url: str, *, max_turns: int = 20, ttl_hours: float = 24.0) -> None:
        self.url = url
        self.max_turns = max_turns
        self.ttl_hours = ttl_hours
        self._ready = False
        self._lock = threading.Lock()

    def _connect(self):
        try:
            conn = psycopg2.connect(self.url)
        except psycopg2.OperationalError as exc:  # answered 503, like any query
            raise DatabaseUnavailable("the warehouse is unavailable") from exc
        conn.autocommit = True
        if not self._ready:
            with self._lock, conn.cursor() as cur:
                cur.execute("select pg_advisory_lock(hashtext('tmdb_app.conversations'))")
                try:
                    cur.execute(DDL)
                finally:
                    cur.execute("select pg_advisory_unlock(hashtext('tmdb_app.conversations'))")
                self._ready = True
        return conn

    def start(self, api_key: str | None) -> str:
        """A new conversation's id; expired ones (and their turns) are deleted on the way."""
        conversation_id = str(uuid.uuid4())
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(f"delete from {SCHEMA}.conversations where expires_at <= now()")
            cur.execute(
                f"insert into {SCHEMA}.conversations (conversation_id, owner, expires_at)"
                " values (%s, %s, now() + make_interval(secs => %s))",
                (conversation_id, owner_of(api_key), self.ttl_hours * 3600),
            )
        return conversation_id

    def turns(self, conversation_id: str, api_key: str | None) -> list[Turn]:
        """The conversation's turns, oldest first; ConversationNotFound otherwise."""
        try:
            uuid.UUID(conversation_id)
        except ValueError:
            raise ConversationNotFound(conversation_id) from None
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                f"select 1 from {SCHEMA}.conversations where conversation_id = %s"
                " and owner = %s and expires_at > now()",
                (conversation_id, owner_of(api_key)),
            )
            if cur.fetchone() is None:
                raise ConversationNotFound(conversation_id)
            cur.execute(
                f"select question, route, sql, metric_query, chart from {SCHEMA}.conversation_turns"
                " where conversation_id = %s order by turn",
                (conversation_id,),
            )
            return [Turn(q, r, s, mq, ch) for q, r, s, mq, ch in cur.fetchall()]

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn; beyond `max_turns` the oldest go."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                f"insert into {SCHEMA}.conversation_turns"
                " (conversation_id, turn, question, route, metric_query, sql, chart)"
                f" select %s, coalesce(max(turn), 0) + 1, %s, %s, %s, %s, %s"
                f" from {SCHEMA}.conversation_turns where conversation_id = %s",
                (
                    conversation_id,
                    turn.question,
                    turn.route,
                    json.dumps(turn.metric_query) if turn.metric_query else None,
                    turn.sql,
                    json.dumps(turn.chart) if turn.chart else None,
                    conversation_id,
                ),
            )
            cur.execute(
                f"delete from {SCHEMA}.conversation_turns where conversation_id = %s and turn <="
                f" (select max(turn) from {SCHEMA}.conversation_turns where conversation_id = %s)"
                " - %s",
                (conversation_id, conversation_id, self.max_turns),
            )
