"""Client-side request budgets.

Kiwoom publishes no numbers (spec.json ``rate_limits``: peers claim 5/s per app key on real and
1/s on mock, or about 1/s per TR), so every budget here is configurable, and
``requests_per_second="auto"`` learns the server's from its answers
(:class:`AdaptiveRateLimiter`).

One limiter shape serves every layer: at most ``burst`` grants in any window of
``burst / rate * (1 + margin)`` seconds. With the default ``burst=1`` grants are evenly spaced,
which no server-side algorithm (sliding window, fixed one-second window, token bucket of
depth two or more) can reject; ``burst=rate`` lets a sliding-window server's full window go at
once. ``margin`` absorbs jitter between leaving this machine and arriving at the server.

Grants keep to their schedule: one that is granted late (the event loop wakes a sleeper up to
a millisecond late, epoll counting in whole milliseconds, and later when it is busy answering
other calls) is booked at the time it was due, within ``tolerance``. Otherwise every late
wake-up would push all later grants back and the budget would never be reached (0.85-0.91 of
it at 100/s, a millisecond lost per grant).

aiolimiter's leaky bucket was considered and not used: a bucket of depth N admits N grants
plus the drain during the next second, which a sliding-window server rejects.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ._ratecontrol import RateControl
from .errors import KiwoomValidationError

__all__ = ["AdaptiveRateLimiter", "RateFeedback", "RateLimiter", "RateLimits"]

SERVER_WINDOW = 1.0
"""Seconds of the server-side window the budgets are counted in (every claim is per second)."""


class RateLimiter:
    """At most ``burst`` grants per ``burst / rate * (1 + margin)`` seconds, FIFO.

    ``tolerance`` (seconds) is how late a grant may be and still be booked at its due time;
    by default a third of ``margin`` of a one-second server window (5 ms), and at most a
    quarter of the spacing of grants, so a grant never follows the one before it by less than
    three quarters of the spacing. The rest of the margin is left for the jitter between this
    machine and the server's clock."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        margin: float = 0.015,
        tolerance: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if margin < 0:
            raise ValueError("margin must not be negative")
        if tolerance is not None and tolerance < 0:
            raise ValueError("tolerance must not be negative")
        self.margin = margin
        self._tolerance_setting = tolerance
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque()
        self._lock: asyncio.Lock | None = None
        self.waits = 0
        """How many acquisitions had to wait (a sign the budget is the bottleneck)."""
        self._limits: list[tuple[int, float]] = []
        self._set_rate(rate, burst)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.rate:g}/s burst={self.burst}>"

    def _set_rate(self, rate: float, burst: int) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self.window = burst / rate * (1.0 + self.margin)
        self._limits = self._shape()
        tolerance = self._tolerance_setting
        if tolerance is None:
            tolerance = min(self.margin * SERVER_WINDOW / 3, self.window / burst / 4)
        self._tolerance = tolerance
        keep = max(count for count, _ in self._limits)
        while len(self._grants) > keep:
            self._grants.popleft()

    def _shape(self) -> list[tuple[int, float]]:
        """(grants, seconds): at most that many grants in any span of that many seconds."""
        return [(self.burst, self.window)]

    def _wait(self, now: float) -> float:
        grants = self._grants
        wait = 0.0
        for count, span in self._limits:
            if len(grants) >= count:
                wait = max(wait, grants[-count] + span - now)
        return wait

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()  # created in the loop that uses it, never at import
        async with self._lock:  # FIFO: waiters are served in arrival order
            due: float | None = None
            while True:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    # Booked when due if the wake-up was late by no more than the tolerance.
                    self._grants.append(now if due is None else max(due, now - self._tolerance))
                    self._granted(now, due is not None)
                    return
                if due is None:
                    self.waits += 1
                due = now + wait
                await self._sleep(wait)

    def _granted(self, now: float, waited: bool) -> None:
        """Called once per grant, under the lock."""


@runtime_checkable
class RateFeedback(Protocol):
    """A limiter that learns from the answers to the requests it granted."""

    def observe(self, limited: bool) -> None:
        """The server answered the request this task was last granted; ``limited``: with a
        rate-limit answer. Call it from the task that called ``acquire``."""


_LAST_GRANT: contextvars.ContextVar[tuple[object, float] | None] = contextvars.ContextVar(
    "kiwoom_async_last_grant", default=None
)
"""(limiter, grant time) of the current task's latest grant: ``acquire`` keeps its signature
(a shared budget elsewhere implements the same one) and ``observe`` still knows which grant
an answer belongs to, whatever other tasks were granted in between."""


class AdaptiveRateLimiter(RateLimiter):
    """A per-key budget that finds the server's limit (``requests_per_second="auto"``).

    It starts at ``start`` requests/s, doubles while the budget is the bottleneck and no
    rate-limit answer comes, and on a rate-limit answer sets the budget to the requests the
    server accepted in the window before it. Once the limit is known it probes one step above
    it now and then (rarely: each probe that fails costs about one rejection), so a limit
    that rises is found too. The rules live in :class:`~kiwoom_async._ratecontrol.RateControl`
    (pure, tested without a clock); ``control`` exposes its state.

    Grants are evenly spaced at the budget and, in addition, never more than the budget in
    any server window, counting the grants made before the budget changed: after a cut the
    server's window is still full of them, and the limiter waits for it to drain.
    """

    def __init__(
        self,
        start: float,
        *,
        margin: float = 0.015,
        tolerance: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.control = RateControl(start, window=SERVER_WINDOW, rng=rng or random.Random())
        super().__init__(
            self.control.rate, margin=margin, tolerance=tolerance, clock=clock, sleep=sleep
        )

    def _shape(self) -> list[tuple[int, float]]:
        per_window = max(1, int(self.rate * SERVER_WINDOW + 1e-9))
        spacing = (1, 1.0 / self.rate * (1.0 + self.margin))
        return [spacing, (per_window, per_window / self.rate * (1.0 + self.margin))]

    def _granted(self, now: float, waited: bool) -> None:
        _LAST_GRANT.set((self, now))
        self._follow(self.control.granted(now, waited))

    def observe(self, limited: bool) -> None:
        grant = _LAST_GRANT.get()
        if grant is None or grant[0] is not self:
            return  # this task holds no grant of this limiter
        self._follow(self.control.answered(grant[1], limited, self._clock()))

    def _follow(self, rate: float) -> None:
        if rate != self.rate:
            self._set_rate(rate, 1)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Budgets in requests per second; ``None`` switches a layer off.

    ``per_key`` covers every TR of the app key, ``per_tr`` each TR id separately, ``orders``
    the order TRs together. ``burst`` applies to every layer. ``per_key="auto"`` starts from
    the environment's default and learns the server's limit (:class:`AdaptiveRateLimiter`).
    """

    per_key: float | Literal["auto"] | None = None
    per_tr: float | None = None
    orders: float | None = None
    burst: int = 1
    margin: float = 0.015

    def __post_init__(self) -> None:
        for name in ("per_key", "per_tr", "orders"):
            value = getattr(self, name)
            if value is None or (value == "auto" and name == "per_key"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                allowed = '"auto", ' if name == "per_key" else ""
                raise KiwoomValidationError(
                    f"RateLimits.{name} must be a positive number, {allowed}or None; got {value!r}"
                )
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KiwoomValidationError(f"RateLimits.burst must be an int >= 1, not {self.burst!r}")
        if not isinstance(self.margin, int | float) or self.margin < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KiwoomValidationError(f"RateLimits.margin must be >= 0, not {self.margin!r}")

    @classmethod
    def default_for(cls, env: str) -> RateLimits:
        """spec.json ``rate_limits.recommended_fake_server_defaults``: real 5/s, mock 1/s."""
        return cls(per_key=5.0) if env == "real" else cls(per_key=1.0)

    def limiter(self, rate: float | None) -> RateLimiter | None:
        if rate is None:
            return None
        return RateLimiter(rate, burst=self.burst, margin=self.margin)

    def key_limiter(self, env: str) -> RateLimiter | None:
        """The per-key layer: adaptive for ``"auto"``, starting at ``env``'s default."""
        if self.per_key == "auto":
            start = RateLimits.default_for(env).per_key
            assert isinstance(start, float)
            return AdaptiveRateLimiter(start, margin=self.margin)
        return self.limiter(self.per_key)
