"""A client-side ceiling on requests per second, shared by all concurrent requests.

Requests are given evenly spaced start slots (no bursts), so the achieved rate stays just under
the ceiling and a server enforcing the same limit per second never has to answer 429.
"""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    def __init__(self, requests_per_second: float | None) -> None:
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next_slot = 0.0

    async def acquire(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Hold every request back, e.g. for a server's `Retry-After`."""
        self._next_slot = max(self._next_slot, time.monotonic() + seconds)
