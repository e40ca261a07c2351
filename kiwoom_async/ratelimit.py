"""Client-side request budgets.

Kiwoom publishes no numbers (spec.json ``rate_limits``: peers claim 5/s per app key on real and
1/s on mock, or about 1/s per TR), so every budget here is configurable.

One limiter shape serves every layer: at most ``burst`` grants in any window of
``burst / rate * (1 + margin)`` seconds. With the default ``burst=1`` grants are evenly spaced,
which no server-side algorithm (sliding window, fixed one-second window, token bucket of any
depth) can reject; ``burst=rate`` lets a sliding-window server's full window go at once.
``margin`` absorbs jitter between leaving this machine and arriving at the server.

aiolimiter's leaky bucket was considered and not used: a bucket of depth N admits N grants
plus the drain during the next second, which a sliding-window server rejects.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits"]


class RateLimiter:
    """At most ``burst`` grants per ``burst / rate * (1 + margin)`` seconds, FIFO."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        margin: float = 0.015,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.window = burst / rate * (1.0 + margin)
        # A late wake-up may be forgiven up to the margin: the grant is booked at the time it
        # was due, so event-loop oversleep does not add up grant after grant, while any
        # ``burst`` grants still span at least ``burst / rate``.
        self._slack = self.window - burst / rate
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque()
        self._lock: asyncio.Lock | None = None
        self.waits = 0
        """How many acquisitions had to wait (a sign the budget is the bottleneck)."""

    def __repr__(self) -> str:
        return f"<RateLimiter {self.rate:g}/s burst={self.burst}>"

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()  # created in the loop that uses it, never at import
        async with self._lock:  # FIFO: waiters are served in arrival order
            grants = self._grants
            due: float | None = None
            while True:
                now = self._clock()
                horizon = now - self.window
                while grants and grants[0] <= horizon:
                    grants.popleft()
                if len(grants) < self.burst:
                    grants.append(now if due is None else max(due, now - self._slack))
                    return
                self.waits += 1
                due = grants[0] + self.window
                await self._sleep(grants[0] - horizon)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Budgets in requests per second; ``None`` switches a layer off.

    ``per_key`` covers every TR of the app key, ``per_tr`` each TR id separately, ``orders``
    the order TRs together. ``burst`` applies to every layer.
    """

    per_key: float | None = None
    per_tr: float | None = None
    orders: float | None = None
    burst: int = 1
    margin: float = 0.015

    @classmethod
    def default_for(cls, env: str) -> RateLimits:
        """spec.json ``rate_limits.recommended_fake_server_defaults``: real 5/s, mock 1/s."""
        return cls(per_key=5.0) if env == "real" else cls(per_key=1.0)

    def limiter(self, rate: float | None) -> RateLimiter | None:
        if rate is None:
            return None
        return RateLimiter(rate, burst=self.burst, margin=self.margin)
