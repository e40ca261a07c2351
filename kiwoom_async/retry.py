"""The one retry policy of the REST session.

Queries are retried on rate-limit answers and transient faults with exponential backoff and
jitter. Orders are never resent once the request may have left the machine; the policy is
not consulted for them. Randomness and sleeping are injectable so tests can pin them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Backoff", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    """Retries of a query after a transient fault (5xx, connection error, timeout, bad body)."""
    rate_limit_budget: float = 120.0
    """Seconds of backoff a query may spend waiting out rate-limit answers before
    RateLimitError: a busy server is waited for, not given up on after a fixed count."""
    rate_limit_retries: int | None = None
    """An optional count cap on those retries (None: only the time budget applies)."""
    backoff_base: float = 0.2
    backoff_max: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random, so
        concurrent callers spread out but none retries at once."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_retries=0, rate_limit_retries=0)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: a random first delay, then exponential growth to a cap, each
    delay jittered so that many clients do not reconnect in step."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int) -> float:
        """Delay before reconnect ``attempt`` (1-based)."""
        # The exponent is capped: a session that keeps reconnecting for days reaches
        # attempts whose plain power overflows a float.
        growth: float = self.factor ** min(attempt - 1, 64)
        ceiling = min(self.maximum, self.initial * growth)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
