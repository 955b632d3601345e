"""The fake TMDB server over real loopback HTTP: routes, auth, errors, throttling, faults."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN, Catalogue, FakeTmdbServer
from tests.builders import catalogue
from tests.conftest import free_port, wait_for_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tmdb"
AUTH = {"Authorization": f"Bearer {FAKE_TMDB_TOKEN}"}
DAYS = 20


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue(11, 1500, DAYS)


@pytest.fixture(scope="module")
def server(cat: Catalogue) -> Iterator[FakeTmdbServer]:
    with FakeTmdbServer(cat) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: FakeTmdbServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
        yield c


def _export_path(when) -> str:
    return f"/p/exports/movie_ids_{when:%m_%d_%Y}.json.gz"


def test_auth_required_and_both_styles_accepted(server: FakeTmdbServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        for response in (
            anon.get("/3/genre/movie/list"),
            anon.get("/3/genre/movie/list", headers={"Authorization": "Bearer wrong"}),
            anon.get("/3/genre/movie/list", params={"api_key": "wrong"}),
        ):
            assert response.status_code == 401
            assert response.json() == {
                "success": False,
                "status_code": 7,
                "status_message": "Invalid API key: You must be granted a valid key.",
            }
        assert anon.get("/3/genre/movie/list", headers=AUTH).status_code == 200
        by_key = anon.get("/3/genre/movie/list", params={"api_key": FAKE_TMDB_TOKEN})
        assert by_key.status_code == 200


def test_genres_and_configuration(client: httpx.Client) -> None:
    response = client.get("/3/genre/movie/list")
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    expected = json.loads((FIXTURES / "genre_movie_list.json").read_text(encoding="utf-8"))
    assert response.json() == expected
    config = client.get("/3/configuration").json()
    assert set(config["images"]) == {
        "base_url", "secure_base_url", "backdrop_sizes", "logo_sizes",
        "poster_sizes", "profile_sizes", "still_sizes",
    }  # fmt: skip
    assert "budget" in config["change_keys"]


def test_movie_details_and_append_to_response(client: httpx.Client, cat: Catalogue) -> None:
    movie_id = cat.movie_ids()[10]
    plain = client.get(f"/3/movie/{movie_id}").json()
    assert plain["id"] == movie_id
    assert not {"credits", "keywords", "release_dates"} & set(plain)
    full = client.get(
        f"/3/movie/{movie_id}", params={"append_to_response": "credits,keywords,release_dates"}
    ).json()
    assert full == cat.details(movie_id)
    only = client.get(f"/3/movie/{movie_id}", params={"append_to_response": "keywords"}).json()
    assert "keywords" in only and "credits" not in only and "release_dates" not in only


def test_unknown_and_removed_movies_are_404(client: httpx.Client, cat: Catalogue) -> None:
    body = {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    }
    for movie_id in (1, next(iter(cat.removed_ids(1)))):
        response = client.get(f"/3/movie/{movie_id}")
        assert response.status_code == 404
        assert response.json() == body
    assert client.get("/3/tv/1").json() == body
    assert client.get("/nowhere").status_code == 404


def _all_pages(client: httpx.Client, params: dict) -> tuple[list[dict], list[dict]]:
    first = client.get("/3/movie/changes", params={**params, "page": 1}).json()
    pages = [first]
    for page in range(2, first["total_pages"] + 1):
        pages.append(client.get("/3/movie/changes", params={**params, "page": page}).json())
    return pages, [entry for p in pages for entry in p["results"]]


def test_changes_paging_matches_catalogue(client: httpx.Client, cat: Catalogue) -> None:
    start, end = cat.date_of(DAYS - 14), cat.date_of(DAYS)
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    pages, results = _all_pages(client, params)
    expected = {}
    for d in range(DAYS - 14, DAYS + 1):
        expected.update({e["id"]: e for e in cat.changes_on(d)})
    assert results == [expected[i] for i in sorted(expected)]
    assert len(pages) > 2
    assert {p["total_results"] for p in pages} == {len(expected)}
    assert {p["total_pages"] for p in pages} == {len(pages)}
    assert all(len(p["results"]) == 100 for p in pages[:-1])
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    beyond = client.get("/3/movie/changes", params={**params, "page": len(pages) + 1}).json()
    assert beyond["results"] == [] and beyond["total_results"] == len(expected)


def test_changes_defaults_to_today(client: httpx.Client, cat: Catalogue) -> None:
    body = client.get("/3/movie/changes").json()
    assert body["results"] == cat.changes_on(DAYS)[:100]
    assert body["total_results"] == len(cat.changes_on(DAYS))


@pytest.mark.parametrize(
    ("params", "status_code"),
    [
        ({"start_date": "2024-01-01", "end_date": "2024-01-16"}, 20),
        ({"start_date": "2024-01-10", "end_date": "2024-01-01"}, 20),
        ({"start_date": "2024-13-01"}, 23),
        ({"end_date": "yesterday"}, 23),
        ({"page": 0}, 22),
        ({"page": 501}, 22),
        ({"page": "x"}, 22),
    ],
)
def test_changes_rejects_bad_parameters(
    client: httpx.Client, params: dict, status_code: int
) -> None:
    response = client.get("/3/movie/changes", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["status_code"] == status_code
    if status_code == 20:
        assert "no longer than 14 days" in body["status_message"]


def test_daily_export_files(server: FakeTmdbServer, cat: Catalogue) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:  # files.tmdb.org has no auth
        for d in (0, 5, DAYS):
            response = anon.get(_export_path(cat.date_of(d)))
            assert response.status_code == 200
            assert response.headers["content-type"] in (
                "application/gzip",
                "application/octet-stream",
            )
            lines = gzip.decompress(response.content).decode("utf-8").splitlines()
            rows = [json.loads(line) for line in lines]
            assert rows == cat.export_rows(d)
        assert [r["id"] for r in cat.export_rows(0)] != [r["id"] for r in cat.export_rows(DAYS)]
        for outside in (cat.date_of(-1), cat.date_of(DAYS + 1)):
            assert anon.get(_export_path(outside)).status_code == 404
        assert anon.get("/p/exports/movie_ids_13_45_2024.json.gz").status_code == 404


class _Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _statuses(c: httpx.Client, clock: _Clock, times: list[float]) -> list[int]:
    """One request at each of `times` (clock seconds), in order; the status of each."""
    statuses = []
    for t in times:
        clock.now = t
        statuses.append(c.get("/3/genre/movie/list").status_code)
    return statuses


def test_rate_limit_answers_429_with_retry_after(cat: Catalogue) -> None:
    clock = _Clock()
    with (
        FakeTmdbServer(cat, rate_limit=5, clock=clock) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        statuses = []
        for _ in range(30):  # all at one instant
            response = c.get("/3/genre/movie/list")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
                body = response.json()
                assert body["success"] is False and body["status_code"] == 25
                assert "(5)" in body["status_message"]
        assert statuses == [200] * 5 + [429] * 25
        assert srv.rate_limited == 25
        clock.now += 1.0  # the window has moved past the five
        assert c.get("/3/genre/movie/list").status_code == 200
        # Exports (files.tmdb.org in real life) are not rate limited.
        assert c.get(_export_path(cat.date_of(0))).status_code == 200


def test_sliding_window_refuses_one_more_in_any_second(cat: Catalogue) -> None:
    """At most N arrivals in any 1 s window, wherever it starts; refusals are not counted."""
    clock = _Clock()
    with (
        FakeTmdbServer(cat, rate_limit=4, rate_limit_window="sliding", clock=clock) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        # Four spread over 0.6 s, then a fifth inside the second that began with the first.
        assert _statuses(c, clock, [100.0, 100.2, 100.4, 100.6, 100.9]) == [200] * 4 + [429]
        # 1.0 s after the first, it has left the window: one place free, and only one.
        assert _statuses(c, clock, [101.0, 101.05]) == [200, 429]
        # The refused ones took no place: at 101.2 the one from 100.2 leaves, and so on.
        assert _statuses(c, clock, [101.2, 101.25, 101.4, 101.6]) == [200, 429, 200, 200]
        # No reset at a clock second: at 101.95 the last second still holds four, at 102.0
        # the one from 101.0 leaves, and its place is the only one.
        assert _statuses(c, clock, [101.95, 102.0, 102.01]) == [429, 200, 429]
        assert srv.rate_limited == 5


def test_sliding_window_retry_after_is_the_wait_for_a_place(cat: Catalogue) -> None:
    clock = _Clock()
    with (
        FakeTmdbServer(cat, rate_limit=0.5, clock=clock) as srv,  # one request per 2 s
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        assert _statuses(c, clock, [100.0]) == [200]
        clock.now = 100.1
        refused = c.get("/3/genre/movie/list")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
        assert _statuses(c, clock, [101.9, 102.0]) == [429, 200]
        assert srv.rate_limited == 2


def test_fixed_window_resets_every_second(cat: Catalogue) -> None:
    """At most N per clock second; a burst across a boundary passes, as fixed windows allow."""
    clock = _Clock()
    with (
        FakeTmdbServer(cat, rate_limit=3, rate_limit_window="fixed", clock=clock) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        assert _statuses(c, clock, [100.1, 100.2, 100.3, 100.4, 100.99]) == [200] * 3 + [429] * 2
        clock.now = 100.5
        refused = c.get("/3/genre/movie/list")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        # A new second: three more, even though three passed less than a second ago.
        assert _statuses(c, clock, [101.0, 101.0, 101.01, 101.5]) == [200] * 3 + [429]
        assert _statuses(c, clock, [102.7]) == [200]
        assert srv.rate_limited == 4


def test_unknown_rate_limit_window_is_refused(cat: Catalogue) -> None:
    with pytest.raises(ValueError, match="sliding, fixed"):
        FakeTmdbServer(cat, rate_limit=5, rate_limit_window="token-bucket")


def _stray_statuses(srv: FakeTmdbServer, movie_id: int, requests: int) -> list[int]:
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c:
        statuses = []
        for _ in range(requests):
            response = c.get(f"/3/movie/{movie_id}")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
                body = response.json()
                assert body["success"] is False and body["status_code"] == 25
                assert "over the allowed limit" in body["status_message"]
    return statuses


def test_stray_429s_come_at_the_asked_share_whatever_the_rate(cat: Catalogue) -> None:
    """429s unrelated to the rate (a CDN edge, a shared IP), Retry-After 1, TMDB's body; drawn
    from a seeded RNG, so the same seed refuses the same requests."""
    movie_id = cat.movie_ids()[0]
    with FakeTmdbServer(cat, stray_429_rate=0.05, fault_seed=11) as srv:
        statuses = _stray_statuses(srv, movie_id, 2000)
        refused = statuses.count(429)
        assert 0.035 * 2000 <= refused <= 0.065 * 2000
        assert set(statuses) == {200, 429}
        assert srv.stray_429s == refused and srv.rate_limited == 0
    with FakeTmdbServer(cat, stray_429_rate=0.05, fault_seed=11) as again:
        assert _stray_statuses(again, movie_id, 2000) == statuses
    with FakeTmdbServer(cat, stray_429_rate=0.05, fault_seed=12) as other:
        assert _stray_statuses(other, movie_id, 2000) != statuses


def test_stray_429s_are_not_counted_by_the_rate_limit(cat: Catalogue) -> None:
    """Refused before the rate limit's window sees them: at one instant, a limit of 5 still
    admits exactly 5, however many strays came in between; exports are never refused."""
    clock = _Clock()
    with (
        FakeTmdbServer(cat, rate_limit=5, stray_429_rate=0.5, fault_seed=3, clock=clock) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        statuses = [c.get("/3/genre/movie/list").status_code for _ in range(40)]
        assert statuses.count(200) == 5
        assert srv.stray_429s > 10 and srv.stray_429s + srv.rate_limited == 35
        assert c.get(_export_path(cat.date_of(0))).status_code == 200
    with pytest.raises(ValueError, match="stray_429_rate"):
        FakeTmdbServer(cat, stray_429_rate=1.5)


def _attempt(url: str, path: str) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
            response = c.get(path)
            kind = "5xx" if response.status_code >= 500 else str(response.status_code)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        kind = "cut"
    return kind, time.perf_counter() - started


def test_faults_produce_each_kind(cat: Catalogue) -> None:
    movie_id = cat.movie_ids()[0]
    with FakeTmdbServer(cat, fault_rate=1.0, fault_seed=3) as srv:
        with ThreadPoolExecutor(max_workers=15) as pool:
            outcomes = list(
                pool.map(lambda _: _attempt(srv.url, f"/3/movie/{movie_id}"), range(15))
            )
        kinds = {kind for kind, _ in outcomes}
        slow = [elapsed for kind, elapsed in outcomes if kind == "200"]
        assert "5xx" in kinds and "cut" in kinds and slow
        assert min(slow) >= 1.4
        assert sum(srv.faults_injected.values()) == 15
        assert set(srv.faults_injected) == {"error", "slow", "truncate"}
        # non-movie routes are never faulted
        assert _attempt(srv.url, "/3/genre/movie/list")[0] == "200"


def test_latency_is_applied(cat: Catalogue) -> None:
    with (
        FakeTmdbServer(cat, latency_ms=150) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c,
    ):
        started = time.perf_counter()
        assert c.get("/3/genre/movie/list").status_code == 200
        assert time.perf_counter() - started >= 0.15


def test_serves_many_clients_at_once(cat: Catalogue) -> None:
    """Requests are served concurrently, not one after another (throughput: bench/)."""
    ids = cat.movie_ids()[:300]
    with FakeTmdbServer(cat, latency_ms=100) as srv:
        clients = [httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) for _ in range(30)]
        try:
            with ThreadPoolExecutor(max_workers=30) as pool:
                codes = list(
                    pool.map(
                        lambda i: clients[i % 30].get(f"/3/movie/{ids[i]}").status_code,
                        range(len(ids)),
                    )
                )
        finally:
            for c in clients:
                c.close()
        assert codes == [200] * len(ids)
        assert srv.requests_total == len(ids)
        assert srv.peak_in_flight > 1
        assert srv.in_flight == 0


def test_server_url_and_port(server: FakeTmdbServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.requests_total > 0
    assert timedelta(days=DAYS) == server.catalogue.date_of(DAYS) - server.catalogue.date_of(0)


def test_serve_logs_url_and_stops_on_ctrl_c() -> None:
    """The blocking CLI entry point: one log line with the URL, clean exit on SIGINT."""
    code = (
        "import logging; logging.basicConfig(level=logging.INFO, format='%(message)s');"
        "from ingestion.fake_tmdb.server import serve; serve(port=0, movies=200, seed=1, day=1)"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=repo, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        response = httpx.get(f"{match.group(1)}/3/movie/changes", headers=AUTH, timeout=10)
        assert response.status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_when_started_with_sigint_ignored(stop: signal.Signals) -> None:
    """A server started in the background of a script inherits SIGINT ignored: Ctrl-C's
    signal (and SIGTERM) still stops it."""
    code = (
        "import logging; logging.basicConfig(level=logging.INFO, format='%(message)s');"
        "from ingestion.fake_tmdb.server import serve; serve(port=0, movies=20, seed=1)"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=repo, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        while "serving" not in proc.stderr.readline():
            assert proc.poll() is None, "the server exited before serving"
        proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fake_tmdb_command_takes_the_rate_limit_window() -> None:
    """`tmdb fake-tmdb --rate-limit-window`: sliding by default, an unknown kind refused."""
    repo = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "cli.main", "fake-tmdb", "--movies", "20"]
    bad = subprocess.run(
        [*command, "--rate-limit", "2", "--rate-limit-window", "bucket"],
        cwd=repo, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "sliding" in bad.stderr and "fixed" in bad.stderr

    port = free_port()
    # One request per 2 s: the second, right after the first, waits for the first to leave.
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--rate-limit", "0.5"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10) as c:
            assert c.get("/3/genre/movie/list").status_code == 200
            refused = c.get("/3/genre/movie/list")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_fake_tmdb_command_takes_the_stray_429_rate() -> None:
    """`tmdb fake-tmdb --stray-429-rate`: a share of API requests refused whatever the rate."""
    repo = Path(__file__).resolve().parents[2]
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "fake-tmdb", "--movies", "20", "--day", "1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--stray-429-rate", "1"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10) as c:
            refused = c.get("/3/genre/movie/list")
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert c.get("/3/movie/changes").status_code == 429
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
