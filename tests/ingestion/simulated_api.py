"""Virtual time for the rate-limit tests: a clock that moves only when someone sleeps, and how
many requests fall in any window. The backfill simulations themselves live in
`test_rate_limit.py` (a virtual-time event loop, so a request waiting its own `Retry-After`
is modelled apart from the others). No sockets and no sleeping: a run is the same every time.
"""

from __future__ import annotations

import asyncio


class VirtualClock:
    """Monotonic seconds that move only when someone sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most of `times` that fall in any half-open interval of `window` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
