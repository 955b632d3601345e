"""The client's rate limit: requests paced evenly, one shared pace, adapted when 429s come.

Why it is built this way. A real API (TMDB: about 40 requests/s) refuses the request that
would put one too many arrivals into a one-second window, and every refusal costs a
`Retry-After` pause (whole seconds). An earlier limiter handed out start slots in advance at
exactly the configured rate: after any stall of the event loop (the GIL while a chunk is
landed, JSON parsing) the late requests went out together, which moved an earlier window's
requests into the next one; and a rate configured above the server's met the same refusal
every second. Against a strict 40/s window that achieved 0.68 of the limit.

But 429s also come below any limit (a CDN edge, a shared IP: a small random share of
requests, whatever the rate). A limiter that takes every 429 for its limit pauses every
worker and cuts the pace on each of them, and after a pause the last second admitted almost
nothing, so the next cut goes lower still: 1% of such refusals cost 95% of the throughput.

So this limiter:

- paces: a request's turn is taken when it really goes out, one per `1 / rate` seconds (a
  token bucket that holds one token), shared by every coroutine and thread that uses it. A
  little lateness is caught up so the beat is kept (`PACE_CATCH_UP` of an interval); a stall
  is never made up with a burst.
- keeps headroom: it paces at `PACE_HEADROOM` of the configured ceiling, because requests at
  exactly N/s trip a strict N/s window on the first bit of network jitter.
- tells a limit from noise, from the requests sent in the second (or two) up to each refusal.
  A limit refuses what goes past it, so its refusals come in a row (the window stays full
  until an old arrival leaves it) or make a large share of what was sent; stray refusals are
  scattered, and a small share (`stray_share`, learned as they come). So a refusal is
  - noise when the server admitted about what was sent: only that request waits its
    `Retry-After` and is sent again; the others keep the pace, which is not cut.
  - a limit's when it ends a run of refusals that noise alone would make less than once in
    some 500 s at this rate (two in a row without noise, three before the noise is known,
    five with 5% of it at 200/s), or when more were refused than noise could explain. Then
    every request waits `Retry-After`, and, once per congestion event (refusals of requests
    sent before it reacted are the same event), the rate falls to what the server was seen
    to admit in the last second (with headroom) or by `RATE_CUT`, whichever is lower. That
    is the limit learned (`learned_limit`) unless a higher pace had held for a while before
    (then the limit fell, or noise came in a rare run): the client climbs back to that pace
    at once, and learns the limit if it is refused again.
  - the limit found again when the client is sending as fast as the limit it learned: back
    to just under it. A limit learned is raised when the server admits more than it.
- climbs back (AIMD) on every admitted answer: quickly up to the rate it had held
  `GOOD_RATE_SECONDS` without a limit, slowly beyond it (probing, `RATE_PROBE`), never above
  the configured ceiling's pace. The slow probe is what keeps a limit configured too high
  cheap: the client finds the real limit once, then comes back to it rarely (about every
  80 s), instead of being refused every second.

A request that waits its own `Retry-After` holds its worker but no connection: the fetcher
runs more workers than connections, so the connections stay busy meanwhile.

`clock` and `sleep` are injectable, so tests step virtual time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time
from collections.abc import Awaitable, Callable
from weakref import WeakKeyDictionary

from ingestion.tmdb import settings as c

# Telling a limit from noise. The share of answers refused as noise is estimated over about
# the last NOISE_MEMORY answers, starting from NOISE_PRIOR (worth NOISE_PRIOR_WEIGHT answers);
# a run of refusals counts in it once. Refusals in a row are a limit's when noise alone would
# make such a run less than once in 1 / RUN_FALSE_ALARMS seconds at the rate sent: two in a
# row without noise, three at the start (before the noise is known), five with 5% of it at
# 200 requests/s. Refusals that are LIMIT_SHARE or more of what was sent over the log's two
# seconds, in any order, are a limit's when noise would make that many less than once in
# 1 / SHARE_FALSE_ALARM seconds.
NOISE_PRIOR = 0.02
NOISE_PRIOR_WEIGHT = 100
NOISE_MEMORY = 1000
RUN_FALSE_ALARMS = 0.002
MAX_RUN = 8
LIMIT_SHARE = 0.1
SHARE_FALSE_ALARM = 1e-4
LOG_WINDOWS = 2  # the log keeps the requests sent in this many observation windows
# At a limit found before, refusals in a second that noise would make less than this often
# are the limit's, measured again (it may be lower than it was measured at first).
PROBE_EXCESS = 0.01
# The limit learned, met twice this soon at the pace it settled on (jitter once; the probe
# takes about a minute to come back to it), was measured too high.
REPEAT_SECONDS = 20.0
# A limit learned is raised when the server admits more than it in a second; looked for while
# the pace is within this share of it.
RAISE_FROM = 0.95

# How a logged request was answered. Refusals judged a limit's (or part of its event) are kept
# apart from those judged noise, so that only the latter teach the noise estimate.
_PENDING, _ADMITTED, _REFUSED, _LIMITED = 0, 1, 2, 3


def _binomial_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how often noise refusing a share `p` of requests
    would refuse `k` or more of `n`."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    term = (1.0 - p) ** n  # P(X = 0)
    below = 0.0
    for i in range(k):
        below += term
        term *= (n - i) / (i + 1) * p / (1.0 - p)
    return max(0.0, 1.0 - below)


class RateLimiter:
    """Use `sent_at = await acquire()` before a request, then `admitted(sent_at)` for any
    answer but 429, or `retry_at = refused(sent_at, retry_after)` for a 429 and
    `await acquire(not_before=retry_at)` to send it again.

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
        self.cuts = 0  # congestion events: refusals judged a limit's
        self.strays = 0  # refusals judged noise: retried, the pace kept
        self.stray_share = NOISE_PRIOR  # the share of answers refused as noise, recently
        self.learned_limit: float | None = None  # requests/s the server admitted at a limit
        self.clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._gates: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        self._next_turn = -math.inf
        # Every request sent in the last two windows, in send order, and how it was answered.
        self._times: list[float] = []
        self._states: list[int] = []
        self._first = 0  # entries before this index are gone
        self._answers = 0
        self._event_until = -math.inf  # refusals of requests sent before this: already answered
        self._tripped_at = -math.inf  # when the limit learned was last met at the settled pace
        self._calm_since: float | None = None  # start of the current run without a limit
        self._good_rate = 0.0  # a rate held GOOD_RATE_SECONDS without a limit
        self._recover_to = 0.0  # where the quick climb after a cut stops

    @property
    def interval(self) -> float:
        """Seconds between two requests at the current rate."""
        return 1.0 / self.rate

    async def acquire(self, not_before: float = -math.inf) -> float:
        """Wait for this request's turn, not before `not_before` (a retry's own wait on this
        clock: a `Retry-After`, a backoff); returns its send time, to hand back with the
        answer."""
        while (wait := not_before - self.clock()) > 0:
            await self._sleep(wait)
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
            now = self.clock()
            self._mark(sent_at, _ADMITTED)
            self._learn_noise(0.0)
            if sent_at <= self._event_until:
                return
            if self._calm_since is not None and now - self._calm_since >= c.GOOD_RATE_SECONDS:
                self._good_rate = max(self._good_rate, self.rate)
            learned = self.learned_limit
            if learned is not None and self.rate >= c.PACE_HEADROOM * learned * RAISE_FROM:
                # The server admitted more in a second than the limit learned: it was noise
                # taken for a limit, or the limit rose. Learn it, and climb back quickly.
                window = c.OBSERVATION_WINDOW_SECONDS
                sent, refused = self._counts(now - window, now)
                if sent - refused >= learned + 2:
                    self.learned_limit = sent - refused - 1
                    self._recover_to = max(self._recover_to, c.PACE_HEADROOM * self.learned_limit)
            step = c.RATE_RECOVERY if self.rate < self._recover_to else c.RATE_PROBE
            limit = self._recover_to if self.rate < self._recover_to else self.max_rate
            self.rate = min(limit, self.rate + step)

    def refused(self, sent_at: float, retry_after: float) -> float:
        """A 429: returns the time from which this request may be sent again.

        Noise: only this request waits. A limit: every request waits `retry_after`, and the
        first refusal of the event lowers the rate.
        """
        with self._lock:
            now = self.clock()
            retry_at = now + retry_after
            if sent_at <= self._event_until:  # sent before the event was answered: part of it
                self._mark(sent_at, _LIMITED)
                self._next_turn = max(self._next_turn, retry_at)
                return retry_at
            index = self._mark(sent_at, _REFUSED)
            window = c.OBSERVATION_WINDOW_SECONDS
            sent, refused = self._counts(sent_at - window, sent_at)
            verdict = self._judge(index, sent, sent_at)
            if verdict == "tripped" and now - self._tripped_at >= REPEAT_SECONDS:
                # At the limit learned, at the pace it settled on: arrivals bunched by jitter
                # put one too many in the server's second. Only this request waits, once.
                self._tripped_at = now
                self.strays += 1
                return retry_at
            if verdict is None:
                self.strays += 1
                if index is None or index == self._first or self._states[index - 1] < _REFUSED:
                    self._learn_noise(1.0)  # a run teaches it once
                return retry_at
            if index is not None:
                self._states[index] = _LIMITED
            self._next_turn = max(self._next_turn, retry_at)
            # What the server let through in the window up to this request (which it refused).
            admitted = (sent - refused) / window
            allowed = c.PACE_HEADROOM * admitted
            floor = max(c.MIN_RATE, c.RATE_CUT_FLOOR * min(self.rate, sent / window))
            rate = max(floor, min(allowed, c.RATE_CUT * self.rate))
            if verdict == "limit" and self._good_rate > allowed:
                # It let clearly less through than we sent, at a pace that held for a while
                # before: the limit fell, or noise came in a rare run. Climb back quickly to the
                # pace that held; if the limit is real, it refuses that again soon (no rate has
                # held since), and is learned then.
                self._recover_to = self._good_rate
            elif verdict == "limit":
                # It let clearly less through than we sent: that is its limit (we were over
                # it, or it fell). Pace just under it, and probe slowly from there.
                self.learned_limit = admitted
                self._recover_to = min(self._good_rate, allowed)
            elif verdict == "tripped":
                # Tripped again, soon, at the pace it settled on: the limit was measured too
                # high (a fixed window counted across its reset), or it fell a little. Measure
                # it again.
                self.learned_limit = admitted
                self._recover_to = allowed
            else:
                # Sending as fast as the limit it found before: the probe found it again (or
                # noise came when it was about to). Come back to just under it; the limit
                # learned stays (noise must not wear it down).
                self.learned_limit = max(self.learned_limit or 0.0, admitted)
                self._recover_to = c.PACE_HEADROOM * self.learned_limit
            self.rate = rate
            self._good_rate = 0.0
            self._calm_since = retry_at
            self._event_until = now
            self.cuts += 1
            return retry_at

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`, without changing the rate."""
        with self._lock:
            self._next_turn = max(self._next_turn, self.clock() + seconds)

    # ------------------------------------------------------------------ judging a refusal
    def _judge(self, index: int | None, sent: int, sent_at: float) -> str | None:
        """The refusal at `index` (sent at `sent_at`, with `sent` requests in the window up to
        it): "limit" (the server admitted clearly less than was sent), "probe" (sent as fast as
        a limit found before, probing past the pace it settled on), "tripped" (as fast as that
        limit, at the pace it settled on), or None for noise. Refusals of requests sent before
        the last event are no evidence: the cut answered them."""
        window = c.OBSERVATION_WINDOW_SECONDS
        _, refused = self._counts(sent_at - window, sent_at, after=self._event_until)
        if refused >= 2:
            if self._run(index) >= self._run_needed(sent):
                return "limit"
            logged, logged_refused = self._counts(
                sent_at - LOG_WINDOWS * window, sent_at, after=self._event_until
            )
            if (
                logged_refused >= LIMIT_SHARE * logged
                and _binomial_tail(logged, logged_refused, self.stray_share) < SHARE_FALSE_ALARM
            ):
                return "limit"
        learned = self.learned_limit
        if learned is not None and sent >= learned:
            if refused >= 2 and _binomial_tail(sent, refused, self.stray_share) < PROBE_EXCESS:
                return "limit"  # refused more than noise would, at a limit found before: lower
            if self.rate > c.PACE_HEADROOM * learned * (1.0 + c.JITTER_MARGIN):
                return "probe"  # the pace went on past the one it settled on
            return "tripped"
        return None

    def _run_needed(self, sent: int) -> int:
        """Refusals in a row that noise alone, at `sent` requests in the window, would make
        less than RUN_FALSE_ALARMS times per window: about refusals x run x share^(run - 1)."""
        share = min(max(self.stray_share, 1e-9), 0.5)
        refusals = share * sent
        run = 2
        while run < MAX_RUN and refusals * run * share ** (run - 1) > RUN_FALSE_ALARMS:
            run += 1
        return run

    def _run(self, index: int | None) -> int:
        """How many requests sent in a row around `index`, itself included, were refused."""
        if index is None:
            return 1
        states, times, since = self._states, self._times, self._event_until
        before = index - 1
        while before >= self._first and states[before] >= _REFUSED and times[before] > since:
            before -= 1
        after = index + 1
        while after < len(states) and states[after] >= _REFUSED:
            after += 1
        return after - before - 1

    def _learn_noise(self, refused: float) -> None:
        """One more answer (1.0: refused as noise, 0.0: admitted) into the noise estimate."""
        self._answers += 1
        weight = min(NOISE_MEMORY, self._answers + NOISE_PRIOR_WEIGHT)
        self.stray_share += (refused - self.stray_share) / weight

    def _counts(self, start: float, end: float, after: float = -math.inf) -> tuple[int, int]:
        """Requests sent in [start, end] (and after `after`), and how many of them were
        refused: closed, so the refused request counts too."""
        lo = bisect.bisect_left(self._times, start, self._first)
        if after >= start:
            lo = bisect.bisect_right(self._times, after, lo)
        hi = bisect.bisect_right(self._times, end, lo)
        return hi - lo, sum(1 for state in self._states[lo:hi] if state >= _REFUSED)

    def _mark(self, sent_at: float, state: int) -> int | None:
        """Note how the request sent at `sent_at` was answered; its index, if still kept."""
        times, states = self._times, self._states
        index = bisect.bisect_left(times, sent_at, self._first)
        while index < len(times) and times[index] == sent_at:
            if states[index] == _PENDING:
                states[index] = state
                return index
            index += 1
        return None

    # ------------------------------------------------------------------ pacing
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
            now = self.clock()
            if now < self._next_turn:
                return None, self._next_turn - now
            interval = self.interval
            self._next_turn = max(
                self._next_turn + interval, now + interval * (1.0 - c.PACE_CATCH_UP)
            )
            if self._calm_since is None:
                self._calm_since = now
            times = self._times
            if times and now < times[-1]:
                now = times[-1]  # another thread's clock read: keep the log in send order
            window = c.OBSERVATION_WINDOW_SECONDS
            times.append(now)
            self._states.append(_PENDING)
            first = bisect.bisect_left(times, now - LOG_WINDOWS * window, self._first)
            if first > 1024 and first * 2 > len(times):
                del times[:first], self._states[:first]
                first = 0
            self._first = first
            return now, 0.0
