"""A local HTTP server speaking the subset of TMDB API v3 that ingestion uses.

Nothing here reaches the internet, so ingestion is developed and tested against this server.
It serves a `Catalogue` with TMDB's real paths, response shapes, error bodies and status
codes, and can misbehave on purpose (rate limiting, 5xx, slow answers, truncated bodies, 429s
that have nothing to do with the rate) so the client's retry logic is exercised over a real
socket rather than mocked.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import random
import re
import signal
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestion.fake_tmdb.catalogue import Catalogue

__all__ = ["FAKE_TMDB_TOKEN", "RATE_LIMIT_WINDOWS", "FakeTmdbServer", "serve"]

log = logging.getLogger(__name__)

FAKE_TMDB_TOKEN = "fake-tmdb-token"

CHANGES_PAGE_SIZE = 100
MAX_CHANGES_DAYS = 14
SLOW_FAULT_SECONDS = 1.5
# TMDB's documented ceiling, named in a stray 429's body when the server enforces no limit.
TMDB_DOCUMENTED_LIMIT = 40
JSON_TYPE = "application/json;charset=utf-8"

_MOVIE_PATH = re.compile(r"^/3/movie/(\d+)$")
_EXPORT_PATH = re.compile(r"^/p/exports/movie_ids_(\d{2})_(\d{2})_(\d{4})\.json\.gz$")
_APPENDABLE = ("credits", "keywords", "release_dates")


def _error(status_code: int, message: str) -> dict:
    return {"success": False, "status_code": status_code, "status_message": message}


NOT_FOUND = _error(34, "The resource you requested could not be found.")
INVALID_KEY = _error(7, "Invalid API key: You must be granted a valid key.")


class _HttpError(Exception):
    """Raised by route handlers to answer with an error status and TMDB error body."""

    def __init__(self, http_status: int, body: dict):
        super().__init__(body.get("status_message", ""))
        self.http_status = http_status
        self.body = body


RATE_LIMIT_WINDOWS = ("sliding", "fixed")


class WindowLimit:
    """At most `limit` admitted requests per `window` seconds, like a real API's rate limit.

    The limit is a whole number of requests (`floor(rate)`, at least 1) over a window of
    `limit / rate` seconds: one second for the usual whole rates, longer for a rate below 1.
    A refused request is not counted against the window (as nginx's `limit_req` and most
    sliding-log limiters do): a client that retries too early keeps being refused until the
    window has room, but is never locked out by its own refusals, and what the window holds is
    exactly what the server let through. `clock` is injectable so tests need not sleep.
    """

    def __init__(self, rate: float, clock: Callable[[], float]):
        self.rate = rate
        self.limit = max(1, math.floor(rate))
        self.window = self.limit / rate
        self._clock = clock
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None when the request may be served, else the seconds until the window has room."""
        with self._lock:
            return self._admit(self._clock())

    def _admit(self, now: float) -> float | None:
        raise NotImplementedError


class SlidingWindowLimit(WindowLimit):
    """No window of `window` seconds, wherever it starts, holds more than `limit` admissions.

    The strict kind of limit: arrival times of admitted requests are kept (at most `limit` of
    them), and a request is refused while the oldest of `limit` admissions is less than
    `window` seconds old. Evenly paced requests just under the rate always pass; any burst that
    would put `limit + 1` arrivals inside one window is refused, which a token bucket with a
    one-second burst allowance would let through.
    """

    def __init__(self, rate: float, clock: Callable[[], float]):
        super().__init__(rate, clock)
        self._admitted: deque[float] = deque()

    def _admit(self, now: float) -> float | None:
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()
        if len(self._admitted) < self.limit:
            self._admitted.append(now)
            return None
        return self._admitted[0] + self.window - now


class FixedWindowLimit(WindowLimit):
    """At most `limit` admissions per clock bucket `[k * window, (k + 1) * window)`.

    The cheap kind of limit many APIs use: the count resets at each bucket boundary, so up to
    `2 * limit` requests can pass within one window that straddles a boundary, but a client
    sending faster than the rate is refused for the rest of every bucket.
    """

    def __init__(self, rate: float, clock: Callable[[], float]):
        super().__init__(rate, clock)
        self._bucket = -1
        self._count = 0

    def _admit(self, now: float) -> float | None:
        bucket = math.floor(now / self.window)
        if bucket != self._bucket:
            self._bucket, self._count = bucket, 0
        if self._count < self.limit:
            self._count += 1
            return None
        return (bucket + 1) * self.window - now


def window_limit(
    rate: float, window: str = "sliding", clock: Callable[[], float] = time.monotonic
) -> WindowLimit:
    """The limit for `rate` requests/s counted over `window` ("sliding" or "fixed")."""
    kinds = {"sliding": SlidingWindowLimit, "fixed": FixedWindowLimit}
    if window not in kinds:
        raise ValueError(f"rate_limit_window must be one of {', '.join(RATE_LIMIT_WINDOWS)}")
    return kinds[window](rate, clock)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; all state lives on the owning `FakeTmdbServer` (`self.server.fake`)."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeTMDB/1.0"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus delayed
    # ACKs would add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines; hundreds of requests/s would drown logs."""

    def do_GET(self) -> None:
        fake: FakeTmdbServer = self.server.fake  # type: ignore[attr-defined]
        fake._enter()
        try:
            self._serve(fake)
        finally:
            fake._leave()

    def _serve(self, fake: FakeTmdbServer) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        api = path.startswith("/3/")
        authorised = api and self._authorised(fake, query)
        # A stray 429 (a CDN edge, a shared IP) is refused before the request reaches the
        # origin, so the rate limit's window never sees it.
        stray = authorised and fake._draw_stray_429()
        # Counted on arrival, before the simulated latency: the window sees requests when
        # they reach the server, not when a sleeping thread happens to wake up.
        limited = authorised and not stray and fake._limit is not None
        wait = fake._limit.admit() if limited else None
        if fake.latency_ms > 0:
            time.sleep(fake.latency_ms / 1000.0)
        try:
            if path.startswith("/p/exports/"):
                self._send_export(fake, path)
                return
            if not api:
                raise _HttpError(404, NOT_FOUND)
            if not authorised:
                raise _HttpError(401, INVALID_KEY)
            if stray:
                self._send_rate_limited(fake, 1.0)
                return
            if wait is not None:
                fake._count("rate_limited")
                self._send_rate_limited(fake, wait)
                return
            fault = fake._draw_fault() if path.startswith("/3/movie/") else None
            if fault == "error":
                self._send_server_error(fake)
                return
            if fault == "slow":
                time.sleep(SLOW_FAULT_SECONDS)
            body = self._route(fake, path, query)
            if fault == "truncate":
                self._send_truncated(body)
                return
            self._send_json(200, body)
        except _HttpError as exc:
            self._send_json(exc.http_status, exc.body)

    # ------------------------------------------------------------------ routing
    def _route(self, fake: FakeTmdbServer, path: str, query: dict[str, str]) -> dict:
        cat = fake.catalogue
        if path == "/3/genre/movie/list":
            return {"genres": cat.genres}
        if path == "/3/configuration":
            return cat.configuration()
        if path == "/3/movie/changes":
            return fake.changes_page(query)
        match = _MOVIE_PATH.match(path)
        if match:
            wanted = [p.strip() for p in query.get("append_to_response", "").split(",")]
            append = tuple(p for p in _APPENDABLE if p in wanted)
            record = cat.details(int(match.group(1)), append=append)
            if record is None:
                raise _HttpError(404, NOT_FOUND)
            return record
        raise _HttpError(404, NOT_FOUND)

    def _authorised(self, fake: FakeTmdbServer, query: dict[str, str]) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer ") and header[len("Bearer ") :].strip() == fake.api_key:
            return True
        return query.get("api_key") == fake.api_key

    # ------------------------------------------------------------------ responses
    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, payload, JSON_TYPE, headers)

    def _send_rate_limited(self, fake: FakeTmdbServer, wait: float) -> None:
        """TMDB's 429: its error body, and `Retry-After` in whole seconds (the wait rounded up,
        as real servers send it)."""
        limit = fake._limit.limit if fake._limit is not None else TMDB_DOCUMENTED_LIMIT
        body = _error(25, f"Your request count (#) is over the allowed limit of ({limit}).")
        self._send_json(429, body, headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def _send_server_error(self, fake: FakeTmdbServer) -> None:
        status = fake._fault_choice((500, 502, 503, 504))
        if status == 502:
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self._send_bytes(502, html, "text/html")
        elif status == 503:
            body = _error(
                9, "Service offline: This service is temporarily offline, try again later."
            )
            self._send_json(503, body)
        elif status == 504:
            self._send_json(504, _error(24, "Your request to the backend server timed out."))
        else:
            self._send_json(500, _error(11, "Internal error: Something went wrong, contact TMDB."))

    def _send_truncated(self, body: dict) -> None:
        """Promise the full Content-Length, send half, then drop the connection."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("socket already closed while truncating a response")

    def _send_export(self, fake: FakeTmdbServer, path: str) -> None:
        match = _EXPORT_PATH.match(path)
        payload = fake.export_gzip(match) if match else None
        if payload is None:
            self._send_bytes(404, b"Not Found", "text/plain")
            return
        self._send_bytes(200, payload, "application/gzip")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, retries after injected faults) are routine here."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class FakeTmdbServer:
    """An in-process TMDB v3 server over a `Catalogue`, runnable in a background thread.

    `rate_limit` (requests/s over `rate_limit_window`: "sliding", the strict kind, or
    "fixed" one-second buckets), `fault_rate` (share of `/3/movie/...` requests that fail:
    5xx, 1.5 s stall or truncated body, equally often) and `stray_429_rate` (share of API
    requests refused with 429 and `Retry-After: 1` whatever the rate, as a CDN edge or a
    shared IP does; never counted by the rate limit's window) make the client's retry, backoff
    and throttling paths testable against real sockets. Faults and stray 429s are drawn from
    RNGs seeded by `fault_seed`, so a run is the same for a seed (given the same requests in
    the same order). `clock` (monotonic seconds) drives the rate limit's windows; tests inject
    one to step time instead of sleeping.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = None,
        fault_rate: float = 0.0,
        latency_ms: float = 0.0,
        api_key: str = FAKE_TMDB_TOKEN,
        fault_seed: int | str = "fake-tmdb-faults",
        rate_limit_window: str = "sliding",
        clock: Callable[[], float] = time.monotonic,
        stray_429_rate: float = 0.0,
    ):
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if not 0.0 <= stray_429_rate <= 1.0:
            raise ValueError("stray_429_rate must be within [0, 1]")
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        self.catalogue = catalogue
        self.host = host
        self.rate_limit = rate_limit
        self.rate_limit_window = rate_limit_window
        self.fault_rate = fault_rate
        self.stray_429_rate = stray_429_rate
        self.latency_ms = latency_ms
        self.api_key = api_key
        self.requests_total = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.rate_limited = 0  # refused by the rate limit's window
        self.stray_429s = 0  # refused whatever the rate
        self.faults_injected: Counter[str] = Counter()
        self._limit = window_limit(rate_limit, rate_limit_window, clock) if rate_limit else None
        self._fault_rng = random.Random(f"faults:{fault_seed}")
        self._stray_rng = random.Random(f"stray-429:{fault_seed}")
        self._lock = threading.Lock()
        self._exports: dict[int, bytes] = {}
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTmdbServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"fake-tmdb-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeTmdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ shared state
    def _enter(self) -> None:
        """Count a request and how many are being served at once (concurrency is observable)."""
        with self._lock:
            self.requests_total += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def _draw_fault(self) -> str | None:
        """Decide under a lock, from a seeded RNG, whether and how to fail this request."""
        if self.fault_rate <= 0:
            return None
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choice(("error", "slow", "truncate"))
            self.faults_injected[kind] += 1
            return kind

    def _draw_stray_429(self) -> bool:
        """Whether to refuse this request whatever the rate (seeded, so a run repeats)."""
        if self.stray_429_rate <= 0:
            return False
        with self._lock:
            if self._stray_rng.random() >= self.stray_429_rate:
                return False
            self.stray_429s += 1
            return True

    def _fault_choice(self, options: tuple):
        with self._lock:
            return self._fault_rng.choice(options)

    # ------------------------------------------------------------------ endpoints
    def changes_page(self, query: dict[str, str]) -> dict:
        """`/3/movie/changes`: changes on days dated within [start, end], 100 per page."""
        cat = self.catalogue
        today = cat.date_of(cat.day)
        try:
            end = date.fromisoformat(query["end_date"]) if query.get("end_date") else None
            start = date.fromisoformat(query["start_date"]) if query.get("start_date") else None
        except ValueError as exc:
            raise _HttpError(
                422, _error(23, "Invalid date: Format needs to be YYYY-MM-DD.")
            ) from exc
        if start is None and end is None:
            start = end = today  # TMDB's default: the last 24 hours
        elif end is None:
            end = max(start, today)
        elif start is None:
            start = end
        if end < start or (end - start).days > MAX_CHANGES_DAYS:
            raise _HttpError(
                422, _error(20, "Invalid date range: Should be a range no longer than 14 days.")
            )
        raw_page = query.get("page", "1") or "1"
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= 500:
            raise _HttpError(
                422,
                _error(
                    22,
                    "Invalid page: Pages start at 1 and max at 500. "
                    "They are expected to be an integer.",
                ),
            )
        page = int(raw_page)
        entries: dict[int, dict] = {}
        for d in range(cat.day_of(start), cat.day_of(end) + 1):
            for entry in cat.changes_on(d):
                entries[entry["id"]] = entry
        results = [entries[i] for i in sorted(entries)]
        total = len(results)
        first = (page - 1) * CHANGES_PAGE_SIZE
        return {
            "results": results[first : first + CHANGES_PAGE_SIZE],
            "page": page,
            "total_pages": max(1, math.ceil(total / CHANGES_PAGE_SIZE)),
            "total_results": total,
        }

    def export_gzip(self, match: re.Match) -> bytes | None:
        """The gzipped NDJSON daily export for MM_DD_YYYY, cached per day; None if out of range."""
        month, day_of_month, year = (int(g) for g in match.groups())
        try:
            when = date(year, month, day_of_month)
        except ValueError:
            return None
        d = self.catalogue.day_of(when)
        if not 0 <= d <= self.catalogue.day:
            return None
        with self._lock:
            cached = self._exports.get(d)
        if cached is not None:
            return cached
        lines = (json.dumps(row, ensure_ascii=False) for row in self.catalogue.export_rows(d))
        payload = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
        with self._lock:
            self._exports[d] = payload
        return payload


def _stop_on_interrupt() -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop `serve`, however the process was started. A command
    started in the background of a non-interactive shell (`tmdb fake-tmdb &` in a script)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: the server
    would outlive the `kill -INT` meant to stop it."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)


def serve(
    port: int = 8765,
    movies: int = 3000,
    seed: int = 42,
    rate_limit: float | None = None,
    fault_rate: float = 0.0,
    latency_ms: float = 0.0,
    day: int = 0,
    host: str = "127.0.0.1",
    rate_limit_window: str = "sliding",
    stray_429_rate: float = 0.0,
    daily_change: float = 0.02,
    today: date | None = None,
) -> None:
    """Build a catalogue and serve it until Ctrl-C (the `tmdb fake-tmdb` command).

    `seed` drives the catalogue, the faults and the stray 429s alike: one seed, one run.
    """
    started = time.monotonic()
    catalogue = Catalogue(seed=seed, movies=movies, day=day, today=today, daily_change=daily_change)
    server = FakeTmdbServer(
        catalogue, host=host, port=port, rate_limit=rate_limit,
        rate_limit_window=rate_limit_window, fault_rate=fault_rate, latency_ms=latency_ms,
        stray_429_rate=stray_429_rate, fault_seed=seed,
    )  # fmt: skip
    log.info(
        "fake TMDB serving %d movies (seed=%d, day=%d, today=%s) at %s/3 with token %r "
        "(built in %.1fs)",
        len(catalogue.movie_ids()), seed, day, catalogue.today, server.url, FAKE_TMDB_TOKEN,
        time.monotonic() - started,
    )  # fmt: skip
    _stop_on_interrupt()
    try:
        server._httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        log.info("fake TMDB stopping")
    finally:
        server._httpd.server_close()
