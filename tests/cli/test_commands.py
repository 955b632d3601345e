"""The `tmdb` command as a user meets it: one-line errors, non-zero exits, and the local server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN
from tests.conftest import REPO_ROOT, free_port, wait_for_port


def _tmdb(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _export_date(server) -> str:
    """The test world's export date: the product's default is the wall clock's, not the anchor's."""
    return server.catalogue.today.isoformat()


def test_bad_credentials(fake_tmdb, monkeypatch) -> None:
    server = fake_tmdb(movies=20)
    monkeypatch.setenv("TMDB_API_TOKEN", "not-the-token")
    _one_line_error(
        _tmdb("ingest", "bulk", "--export-date", _export_date(server)), "rejected the credentials"
    )


def test_missing_credentials(monkeypatch) -> None:
    _one_line_error(_tmdb("ingest", "daily"), "TMDB_API_TOKEN")


def test_unreachable_api(monkeypatch) -> None:
    monkeypatch.setenv("TMDB_API_TOKEN", "any")
    monkeypatch.setenv("TMDB_API_BASE_URL", f"http://127.0.0.1:{free_port()}/3")
    _one_line_error(_tmdb("ingest", "bulk"), "cannot reach the TMDB API")


def test_unreachable_warehouse(fake_tmdb, monkeypatch) -> None:
    server = fake_tmdb(movies=20)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:secret@127.0.0.1:{free_port()}/db")
    result = _tmdb("ingest", "bulk", "--export-date", _export_date(server))
    _one_line_error(result, "cannot reach PostgreSQL")
    assert "secret" not in result.stderr


def test_bad_date_option(fake_tmdb) -> None:
    fake_tmdb(movies=20)
    _one_line_error(_tmdb("ingest", "bulk", "--export-date", "07/01/2025"), "YYYY-MM-DD")


def test_bulk_prints_a_summary(fake_tmdb, database_url) -> None:
    server = fake_tmdb(movies=120)
    result = _tmdb("ingest", "bulk", "--limit", "50", "--export-date", _export_date(server))
    assert result.returncode == 0, result.stderr
    assert "50 ids selected, 50 fetched, 0 missing" in result.stdout
    assert "requests/s" in result.stdout
    assert server.requests_total >= 50


def test_fake_tmdb_command_serves_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "fake-tmdb", "--port", str(port), "--movies", "50",
         "--seed", "3", "--day", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/3/genre/movie/list").status_code == 401
        genres = httpx.get(
            f"{base}/3/genre/movie/list", headers={"Authorization": f"Bearer {FAKE_TMDB_TOKEN}"}
        )
        assert genres.status_code == 200 and len(genres.json()["genres"]) == 19
    finally:
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/3" in stdout


def test_fake_tmdb_port_in_use() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_line_error(_tmdb("fake-tmdb", "--port", str(port), "--movies", "10"), "cannot serve")
