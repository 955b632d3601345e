"""An async HTTP client for TMDB v3: authentication, rate limit, retries, typed failures.

Every expected failure becomes a `TmdbError` subclass with a one-line message, so the CLI can
print it and exit non-zero, and a Lambda can raise it for a retry. 404 is an answer, not an error:
it returns None, because a movie that disappeared is data (it gets marked deleted).
"""

from __future__ import annotations

import json
import logging
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from typing import Any

import httpx

from ingestion.tmdb import settings as c
from ingestion.tmdb.rate_limit import RateLimiter

logger = logging.getLogger(__name__)


class TmdbError(RuntimeError):
    """An expected failure talking to TMDB."""


class TmdbAuthError(TmdbError):
    pass


class TmdbUnreachable(TmdbError):
    pass


class TmdbRequestFailed(TmdbError):
    pass


@dataclass
class RequestStats:
    """Counters for the end-of-run summary; updated from one event loop only."""

    requests: int = 0
    retried: int = 0
    rate_limited: int = 0
    first_request_at: float | None = None
    last_response_at: float | None = None

    def requests_per_second(self) -> float:
        """Requests over the time between the first request and the last answer."""
        if self.first_request_at is None or self.last_response_at is None:
            return 0.0
        elapsed = self.last_response_at - self.first_request_at
        return self.requests / elapsed if elapsed > 0 else 0.0


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _retry_after_seconds(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _backoff(attempt: int) -> float:
    delay = min(c.BACKOFF_BASE_SECONDS * 2**attempt, c.BACKOFF_MAX_SECONDS)
    return delay * random.uniform(0.5, 1.5)


def _status_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("status_message", "")).strip() or response.reason_phrase
    except (ValueError, AttributeError):
        return response.reason_phrase


class TmdbClient:
    """Use as `async with TmdbClient(...) as client:`; one instance per event loop.

    Every request takes its turn from `limiter` (built from `rate_limit_rps` unless one is
    given, e.g. shared by several clients so that they keep one pace between them) and reports
    how it was answered, so that a 429 from a limit slows all of them down, while a stray one
    only sends that request again after its `Retry-After`. Waits before a retry (`Retry-After`,
    backoff) are taken on the limiter's clock. `transport` replaces the network (httpx's
    `MockTransport`), for simulations in virtual time.
    """

    def __init__(
        self,
        api_base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        rate_limit_rps: float | None = None,
        max_concurrency: int = 16,
        stats: RequestStats | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not token and not api_key:
            raise TmdbAuthError("no TMDB credentials: set TMDB_API_TOKEN or TMDB_API_KEY")
        self.api_base_url = api_base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        self._auth_params: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        else:
            self._auth_params["api_key"] = api_key or ""
        self.limiter = limiter or RateLimiter(rate_limit_rps)
        self._transport = transport
        self.stats = stats or RequestStats()
        self._max_concurrency = max_concurrency
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> TmdbClient:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(c.REQUEST_TIMEOUT_SECONDS, connect=c.CONNECT_TIMEOUT_SECONDS),
            limits=httpx.Limits(
                max_connections=self._max_concurrency,
                max_keepalive_connections=self._max_concurrency,
            ),
            headers=self._headers,
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """GET a JSON document; None for 404. Retries what is worth retrying."""
        assert self._http is not None, "use the client as an async context manager"
        url = f"{self.api_base_url}/{path.lstrip('/')}"
        query = {**(params or {}), **self._auth_params}
        failures = 0
        connect_failures = 0
        rate_limited = 0
        last_error = ""
        retry_at = -math.inf
        while True:
            sent_at = await self.limiter.acquire(not_before=retry_at)
            self.stats.requests += 1
            if self.stats.first_request_at is None:
                self.stats.first_request_at = monotonic()
            try:
                response = await self._http.get(url, params=query)
                body = response.content
                self.stats.last_response_at = monotonic()
            except httpx.ConnectError as exc:
                connect_failures += 1
                if connect_failures >= c.CONNECT_ATTEMPTS:
                    raise TmdbUnreachable(
                        f"cannot reach the TMDB API at {self.api_base_url}: {exc or 'refused'}"
                    ) from exc
                last_error = f"connection failed ({exc})"
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status != 429:
                    self.limiter.admitted(sent_at)
                if status == 200:
                    try:
                        return json.loads(body)
                    except ValueError:
                        last_error = "cut-off or invalid JSON body"
                elif status == 404:
                    return None
                elif status == 401:
                    raise TmdbAuthError(
                        f"TMDB rejected the credentials: {_status_message(response)}"
                    )
                elif status == 429:
                    rate_limited += 1
                    self.stats.rate_limited += 1
                    if rate_limited > c.MAX_RATE_LIMITED_WAITS:
                        raise TmdbRequestFailed(
                            f"still rate limited after {rate_limited} waits: {url}"
                        )
                    # This request waits Retry-After; the limiter holds every other one back
                    # too if the refusal shows a limit rather than noise.
                    retry_at = self.limiter.refused(sent_at, _retry_after_seconds(response))
                    self.stats.retried += 1
                    continue
                elif status >= 500:
                    last_error = f"HTTP {status}"
                else:
                    raise TmdbRequestFailed(
                        f"TMDB answered {status} for {path}: {_status_message(response)}"
                    )
            failures += 1
            if failures >= c.MAX_ATTEMPTS:
                raise TmdbRequestFailed(
                    f"gave up on {path} after {failures} attempts: {last_error}"
                )
            self.stats.retried += 1
            logger.debug("retrying %s after %s", path, last_error)
            retry_at = self.limiter.clock() + _backoff(failures)

    async def movie_details(self, movie_id: int) -> dict[str, Any] | None:
        """Details with credits, keywords and release dates, stamped with `_fetched_at`."""
        record = await self.get(
            f"movie/{movie_id}", {"append_to_response": c.DETAILS_APPEND_TO_RESPONSE}
        )
        if record is not None:
            record["_fetched_at"] = utc_now_iso()
        return record

    async def check_access(self) -> None:
        """Fail fast, with one line, on bad credentials or an unreachable API."""
        await self.get("configuration")
