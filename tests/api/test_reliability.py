"""PostgreSQL restarted while the API serves: clean 503s during the outage, success after,
without restarting the API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg2

from warehouse import embedded


def test_database_restart_while_serving(api, api_warehouse, pg_socket_url) -> None:
    pgdata = Path(parse_qs(urlsplit(pg_socket_url).query)["host"][0])
    with psycopg2.connect(api_warehouse.database_url) as conn, conn.cursor() as cur:
        cur.execute("select movie_id from marts.dim_movies order by movie_id limit 1")
        movie_id = cur.fetchone()[0]
    client = api()
    assert client.post("/predict", json={"movie_id": movie_id}).status_code == 200
    assert embedded.stop(pgdata)
    try:
        down = client.post("/predict", json={"movie_id": movie_id})
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "database_unavailable"
        assert "postgresql://" not in down.text and "Traceback" not in down.text
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["database"] == "unavailable"
    finally:
        embedded.start(pgdata)
    back = client.post("/predict", json={"movie_id": movie_id})
    assert back.status_code == 200, back.text
    assert client.get("/health").json()["database"] == "ok"
