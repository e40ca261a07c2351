"""The bounded event queue between the realtime reader and the consumer.

Two lanes. The priority lane carries account events (``00`` fills, ``04`` balance) and
lifecycle events: it is never trimmed, and if it would exceed its bound the session fails
loudly rather than lose a fill. The market lane is bounded and follows the overflow policy
the user picked; every event it does not deliver is counted.

The reader never waits on the consumer: a put is synchronous, so a slow consumer can never
delay a PING echo.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from .errors import EventQueueOverflowError

__all__ = ["OVERFLOW_POLICIES", "EventQueue", "OverflowPolicy", "QueueStats"]

OverflowPolicy = Literal["drop_oldest", "drop_newest", "latest", "raise"]
OVERFLOW_POLICIES: tuple[OverflowPolicy, ...] = ("drop_oldest", "drop_newest", "latest", "raise")

T = TypeVar("T")


@dataclass(slots=True)
class QueueStats:
    delivered: int = 0
    dropped_oldest: int = 0
    dropped_newest: int = 0
    replaced: int = 0
    """Market events superseded by a newer one for the same (type, item) (policy "latest")."""
    priority_peak: int = 0

    @property
    def dropped(self) -> int:
        return self.dropped_oldest + self.dropped_newest + self.replaced


class EventQueue(Generic[T]):
    """One consumer, one producer, two lanes; see the module docstring."""

    def __init__(
        self, maxsize: int, policy: OverflowPolicy = "drop_oldest", *, priority_maxsize: int
    ) -> None:
        if maxsize < 1 or priority_maxsize < 1:
            raise ValueError("queue sizes must be at least 1")
        if policy not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow policy must be one of {OVERFLOW_POLICIES}, not {policy!r}")
        self.maxsize = maxsize
        self.policy = policy
        self.priority_maxsize = priority_maxsize
        self.stats = QueueStats()
        self._priority: deque[T] = deque()
        self._market: deque[T] = deque()
        self._latest: dict[tuple[str, str], T] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._priority) + len(self._market) + len(self._latest)

    def put_priority(self, event: T) -> None:
        if len(self._priority) >= self.priority_maxsize:
            error = EventQueueOverflowError(
                f"{len(self._priority)} account/lifecycle events are waiting for the consumer; "
                "failing instead of dropping one"
            )
            self.fail(error)
            raise error
        self._priority.append(event)
        self.stats.priority_peak = max(self.stats.priority_peak, len(self._priority))
        self._wake()

    def put_market(self, event: T, key: tuple[str, str]) -> None:
        if self.policy == "latest":
            latest = self._latest
            if key in latest:
                latest[key] = event
                self.stats.replaced += 1
            else:
                if len(latest) >= self.maxsize:
                    del latest[next(iter(latest))]
                    self.stats.dropped_oldest += 1
                latest[key] = event
        else:
            market = self._market
            if len(market) >= self.maxsize:
                if self.policy == "drop_oldest":
                    market.popleft()
                    self.stats.dropped_oldest += 1
                elif self.policy == "drop_newest":
                    self.stats.dropped_newest += 1
                    return
                else:
                    error = EventQueueOverflowError(
                        f"market event queue full ({self.maxsize}) under the 'raise' policy"
                    )
                    self.fail(error)
                    raise error
            market.append(event)
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the stream: the consumer gets the queued events, then ``error``."""
        if self._failure is None:
            self._failure = error
        self._wake()

    async def get(self) -> T:
        while True:
            if self._priority:
                self.stats.delivered += 1
                return self._priority.popleft()
            if self._market:
                self.stats.delivered += 1
                return self._market.popleft()
            if self._latest:
                key = next(iter(self._latest))
                self.stats.delivered += 1
                return self._latest.pop(key)
            if self._failure is not None:
                raise self._failure
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
