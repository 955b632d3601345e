"""The TMDB client against the fake server's own rate limit, in virtual time.

The client talks through httpx's `MockTransport` to a handler that applies the same window
limit the fake TMDB server uses, and both read one virtual clock that only the client's pacer
moves (its sleeps advance it). No sockets and no sleeping: a run is the same every time, so
tests can assert exact counts (429s, requests in any window, rate after a cut) on any machine.
Requests are answered at the instant they are sent (no latency), so at most the refused
request itself is in flight when the client learns of a 429.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import httpx

from ingestion.fake_tmdb import FAKE_TMDB_TOKEN
from ingestion.fake_tmdb.server import window_limit
from ingestion.tmdb.client import RequestStats, TmdbClient
from ingestion.tmdb.rate_limit import RateLimiter


class VirtualClock:
    """Monotonic seconds that move only when someone sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class SimulatedRun:
    records: list[dict | None]
    limiter: RateLimiter
    stats: RequestStats
    sent: list[float] = field(default_factory=list)
    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        """Virtual seconds from the first request to the last one."""
        return self.sent[-1] - self.sent[0]

    def achieved(self) -> float:
        """Admitted requests per virtual second."""
        return (len(self.admitted) - 1) / (self.admitted[-1] - self.admitted[0])


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most of `times` that fall in any half-open interval of `window` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def simulate(
    movies: int,
    *,
    client_rps: float | None,
    server_rps: float,
    window: str = "sliding",
    concurrency: int = 16,
    start: float = 1000.3,
    then: tuple[float, float] | None = None,
) -> SimulatedRun:
    """Fetch `movies` details with `concurrency` workers through one client and its limiter.

    `then=(seconds, rps)`: from `seconds` after the start, the server allows `rps` instead.
    """
    clock = VirtualClock(start)
    limits = [window_limit(server_rps, window, clock)]
    limiter = RateLimiter(client_rps, clock=clock, sleep=clock.sleep)
    run = SimulatedRun(records=[], limiter=limiter, stats=RequestStats())

    def handle(request: httpx.Request) -> httpx.Response:
        now = clock()
        run.sent.append(now)
        if then is not None and len(limits) == 1 and now >= start + then[0]:
            limits.append(window_limit(then[1], window, clock))
        wait = limits[-1].admit()
        if wait is not None:
            run.refused.append(now)
            retry_after = str(max(1, math.ceil(wait)))
            return httpx.Response(429, headers={"Retry-After": retry_after}, json={})
        run.admitted.append(now)
        return httpx.Response(200, json={"id": int(request.url.path.rsplit("/", 1)[1])})

    async def fetch() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for movie_id in range(1, movies + 1):
            queue.put_nowait(movie_id)
        async with TmdbClient(
            "http://tmdb.test/3",
            token=FAKE_TMDB_TOKEN,
            stats=run.stats,
            limiter=limiter,
            transport=httpx.MockTransport(handle),
        ) as client:

            async def worker() -> None:
                while not queue.empty():
                    run.records.append(await client.movie_details(queue.get_nowait()))
                    run.rates.append(limiter.rate)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(fetch())
    return run
