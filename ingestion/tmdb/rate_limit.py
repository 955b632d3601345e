"""The client's rate limit: requests paced evenly, one shared pace, adapted when 429s come.

Why it is built this way. A real API (TMDB: about 40 requests/s) refuses the request that
would put one too many arrivals into a one-second window, and every refusal costs a
`Retry-After` pause (whole seconds) for the whole client. An earlier limiter handed out start
slots in advance at exactly the configured rate: after any stall of the event loop (the GIL
while a chunk is landed, JSON parsing) the late requests went out together, which moved an
earlier window's requests into the next one; and a rate configured above the server's met the
same refusal every second. Against a strict 40/s window that achieved 0.68 of the limit.

So this limiter:

- paces: a request's turn is taken when it really goes out, one per `1 / rate` seconds (a
  token bucket that holds one token), shared by every coroutine and thread that uses it. A
  little lateness is caught up so the beat is kept (`PACE_CATCH_UP` of an interval); a stall
  is never made up with a burst.
- keeps headroom: it paces at `PACE_HEADROOM` of the configured ceiling, because requests at
  exactly N/s trip a strict N/s window on the first bit of network jitter.
- adapts (AIMD): on a 429 it honours `Retry-After` for every request, and, once per congestion
  event (refusals of requests sent before it reacted are the same event), lowers the rate to
  what the server was seen to admit in the last second (with headroom) or by `RATE_CUT`,
  whichever is lower. Then it climbs back on every admitted answer: quickly up to the rate it
  had held `GOOD_RATE_SECONDS` without refusals (a refusal from jitter costs one dip; one
  past the pace it had settled on costs that pace's headroom), slowly beyond it (probing,
  `RATE_PROBE`), never above the configured ceiling's pace. The slow probe is what keeps a
  limit configured too high cheap: the client finds the real limit once, then comes back to
  it rarely (about every 80 s), instead of being refused every second.

`clock` and `sleep` are injectable, so tests step virtual time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from weakref import WeakKeyDictionary

from ingestion.tmdb import settings as c


def _count_in(times: deque[float], start: float, end: float) -> int:
    """How many of `times` lie in [start, end]: closed, so the refused request counts too."""
    return sum(1 for t in times if start <= t <= end)


class RateLimiter:
    """Use `sent_at = await acquire()` before a request, then `admitted(sent_at)` for any
    answer but 429, or `refused(sent_at, retry_after)` for a 429.

    `requests_per_second` is the configured ceiling (`TMDB_RATE_LIMIT_RPS`); None paces
    nothing until a 429 shows what the server allows.
    """

    def __init__(
        self,
        requests_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.ceiling = requests_per_second or math.inf
        self.max_rate = self.ceiling * c.PACE_HEADROOM
        self.rate = self.max_rate
        self.cuts = 0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._gates: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        self._next_turn = -math.inf
        self._sent: deque[float] = deque()
        self._refused: deque[float] = deque()
        self._event_until = -math.inf  # refusals of requests sent before this: already answered
        self._calm_since: float | None = None  # start of the current run without refusals
        self._good_rate = 0.0  # a rate held GOOD_RATE_SECONDS without a refusal
        self._recover_to = 0.0  # where the quick climb after a cut stops
        self._settled = self.max_rate  # the pace set with headroom: configured, or after a cut
        self._settled_trusted = False  # whether it is known to hold (it did, or was measured)

    @property
    def interval(self) -> float:
        """Seconds between two requests at the current rate."""
        return 1.0 / self.rate

    async def acquire(self) -> float:
        """Wait for this request's turn; returns its send time, to hand back with the answer."""
        async with self._gate():
            while True:
                sent_at, wait = self._take_turn()
                if sent_at is not None:
                    return sent_at
                await self._sleep(wait)

    def admitted(self, sent_at: float) -> None:
        """Any answer but 429: the server took the request, so climb back towards the ceiling.

        Per answer the rate grows by a fixed number of requests/s, so while answers come at
        the rate it grows by that share of itself per second (scale-free: 20/s or 50/s alike).
        Answers to requests sent before the last cut say nothing about the new rate: no climb.
        """
        with self._lock:
            now = self._clock()
            if sent_at <= self._event_until:
                return
            if self._calm_since is not None and now - self._calm_since >= c.GOOD_RATE_SECONDS:
                self._good_rate = max(self._good_rate, self.rate)
                if self._good_rate >= self._settled:
                    self._settled_trusted = True
            step = c.RATE_RECOVERY if self.rate < self._recover_to else c.RATE_PROBE
            limit = self._recover_to if self.rate < self._recover_to else self.max_rate
            self.rate = min(limit, self.rate + step)

    def refused(self, sent_at: float, retry_after: float) -> None:
        """A 429: everyone waits `retry_after`; the first refusal of an event lowers the rate."""
        with self._lock:
            now = self._clock()
            self._next_turn = max(self._next_turn, now + retry_after)
            self._refused.append(sent_at)
            if sent_at <= self._event_until:
                return
            # What the server let through in the window up to this request (which it refused).
            window = c.OBSERVATION_WINDOW_SECONDS
            sent = _count_in(self._sent, sent_at - window, sent_at)
            observed = (sent - _count_in(self._refused, sent_at - window, sent_at)) / window
            allowed = c.PACE_HEADROOM * observed
            good = self._good_rate
            if observed < c.RATE_CUT * self.rate:
                # It let much less through than we sent: that is its limit (we were well over
                # it, or it fell). Pace just under it.
                self._recover_to = min(good, allowed)
                trusted = True
            elif self.rate <= self._settled * (1 + c.JITTER_MARGIN) and self._settled_trusted:
                # About our pace, at a pace known to hold (it did, or it came from a measured
                # limit): jitter bunched the arrivals. Dip, then come back to it; trusted
                # again once it holds again, so that jitter that keeps tripping it wins a cut.
                self._recover_to = max(good, self._settled)
                trusted = False
            elif good:
                # About our pace, past the pace it had settled on: the probe found the limit
                # again. Come back to just under where it was refused.
                self._recover_to = c.PACE_HEADROOM * good
                trusted = True
            else:
                # About our pace, which never held: over a fixed window (which lets through
                # whatever we send until its count is full) it says only "lower". Cut, probe.
                self._recover_to = 0.0
                trusted = False
            floor = max(c.MIN_RATE, c.RATE_CUT_FLOOR * min(self.rate, sent / window))
            self.rate = max(floor, min(allowed, c.RATE_CUT * self.rate))
            self._settled = self._recover_to or self.rate
            self._settled_trusted = trusted
            self._good_rate = 0.0
            self._calm_since = now + retry_after
            self._event_until = now
            self.cuts += 1

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`, without changing the rate."""
        with self._lock:
            self._next_turn = max(self._next_turn, self._clock() + seconds)

    def _gate(self) -> asyncio.Lock:
        """One waiter per event loop at a time (FIFO): the rest queue instead of all waking."""
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._gates.get(loop)
            if gate is None:
                gate = self._gates[loop] = asyncio.Lock()
            return gate

    def _take_turn(self) -> tuple[float | None, float]:
        """(send time, 0) when it is this request's turn, else (None, seconds to wait)."""
        with self._lock:
            now = self._clock()
            if now < self._next_turn:
                return None, self._next_turn - now
            interval = self.interval
            self._next_turn = max(
                self._next_turn + interval, now + interval * (1.0 - c.PACE_CATCH_UP)
            )
            if self._calm_since is None:
                self._calm_since = now
            self._sent.append(now)
            horizon = now - 2 * c.OBSERVATION_WINDOW_SECONDS
            for times in (self._sent, self._refused):
                while times and times[0] < horizon:
                    times.popleft()
            return now, 0.0
