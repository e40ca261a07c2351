"""The bounded event queue between the realtime reader and the consumer.

Three lanes:

- account events (``00`` fills, ``04`` balance) are never dropped and are delivered first;
- lifecycle events (connected, disconnected, resubscribed...) are never dropped and are
  delivered in arrival order with market data, so no tick from before a drop arrives after the
  ``Resubscribed`` that tells the consumer to re-snapshot;
- market data is bounded and follows the overflow policy the user picked; every event it does
  not deliver is counted.

If the never-dropped lanes together exceed their bound the stream fails loudly rather than
lose a fill. The reader never waits on the consumer: a put is synchronous, so a slow consumer
can never delay a PING echo.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, cast

from .errors import EventQueueOverflowError

__all__ = ["OVERFLOW_POLICIES", "EventQueue", "OverflowPolicy", "QueueStats"]

OverflowPolicy = Literal["drop_oldest", "drop_newest", "latest", "raise"]
OVERFLOW_POLICIES: tuple[OverflowPolicy, ...] = ("drop_oldest", "drop_newest", "latest", "raise")

T = TypeVar("T")

_EMPTY = object()


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
        self._keyed = policy == "latest"
        self._priority: deque[T] = deque()
        # A lifecycle event is queued with its position among market events: the number of
        # market events put before it (under "latest", the shared sequence number below).
        # Counting positions spares every market event a (sequence, event) pair.
        self._lifecycle: deque[tuple[int, T]] = deque()
        self._market: deque[T] = deque()
        self._market_head = 0
        """Position of ``_market[0]``: market events delivered or dropped from the front."""
        self._market_tail = 0
        """Position of the next market event appended."""
        self._seq = 0
        self._latest: dict[tuple[str, str], tuple[int, T]] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._priority) + len(self._lifecycle) + len(self._market) + len(self._latest)

    def put_priority(self, event: T) -> None:
        """An account event: never dropped, delivered before everything else."""
        self._check_lossless_room()
        self._priority.append(event)
        self._note_peak()
        self._wake()

    def put_lifecycle(self, event: T) -> None:
        """A lifecycle event: never dropped, delivered in order with market data."""
        self._check_lossless_room()
        if self._keyed:
            self._seq += 1
            self._lifecycle.append((self._seq, event))
        else:
            self._lifecycle.append((self._market_tail, event))
        self._note_peak()
        self._wake()

    def put_market(self, event: T, key: tuple[str, str] | None = None) -> None:
        """A market event. ``key``, its (type, item), is needed by the "latest" policy only,
        so a producer under another policy need not build it."""
        if self._keyed:
            if key is None:
                raise ValueError('the "latest" policy needs the key of every market event')
            self._put_latest(event, key)
        else:
            market = self._market
            if len(market) >= self.maxsize:
                policy = self.policy
                if policy == "drop_oldest":
                    market.popleft()
                    self._market_head += 1
                    self.stats.dropped_oldest += 1
                elif policy == "drop_newest":
                    self.stats.dropped_newest += 1
                    return
                else:
                    error = EventQueueOverflowError(
                        f"market event queue full ({self.maxsize}) under the 'raise' policy"
                    )
                    self.fail(error)
                    raise error
            market.append(event)
            self._market_tail += 1
        if self._waiters:
            self._wake()

    def _put_latest(self, event: T, key: tuple[str, str]) -> None:
        self._seq += 1
        latest = self._latest
        queued = latest.get(key)
        if queued is not None:
            latest[key] = (queued[0], event)  # keeps its place in line
            self.stats.replaced += 1
        else:
            if len(latest) >= self.maxsize:
                del latest[next(iter(latest))]
                self.stats.dropped_oldest += 1
            latest[key] = (self._seq, event)

    def fail(self, error: BaseException) -> None:
        """End the stream: the consumer gets the queued events, then ``error``."""
        if self._failure is None:
            self._failure = error
        self._wake()

    def get_nowait(self) -> T:
        """The next event; raises ``LookupError`` when there is none yet (the stream's failure
        is raised by :meth:`get` only)."""
        if self._market and not self._priority and not self._lifecycle:
            # The steady state: only market data waiting.
            self._market_head += 1
            self.stats.delivered += 1
            return self._market.popleft()
        event = self._pop()
        if event is _EMPTY:
            raise LookupError("no event queued")
        self.stats.delivered += 1
        return cast(T, event)

    async def get(self) -> T:
        if self._market and not self._priority and not self._lifecycle:
            self._market_head += 1
            self.stats.delivered += 1
            return self._market.popleft()
        while True:
            event = self._pop()
            if event is not _EMPTY:
                self.stats.delivered += 1
                return cast(T, event)
            if self._failure is not None:
                raise self._failure
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    self._waiters.remove(waiter)

    def _pop(self) -> T | object:
        """The next event, or ``_EMPTY`` (an event may be any value, None included)."""
        if self._priority:
            return self._priority.popleft()
        lifecycle, market, latest = self._lifecycle, self._market, self._latest
        first = lifecycle[0][0] if lifecycle else None
        if market and (first is None or self._market_head < first):
            self._market_head += 1
            return market.popleft()
        if latest:
            key = next(iter(latest))
            if first is None or latest[key][0] < first:
                return latest.pop(key)[1]
        if first is not None:
            return lifecycle.popleft()[1]
        return _EMPTY

    def _check_lossless_room(self) -> None:
        waiting = len(self._priority) + len(self._lifecycle)
        if waiting >= self.priority_maxsize:
            error = EventQueueOverflowError(
                f"{waiting} account/lifecycle events are waiting for the consumer; "
                "failing instead of dropping one"
            )
            self.fail(error)
            raise error

    def _note_peak(self) -> None:
        waiting = len(self._priority) + len(self._lifecycle)
        if waiting > self.stats.priority_peak:
            self.stats.priority_peak = waiting

    def _wake(self) -> None:
        # Every waiting consumer re-checks; the ones that find nothing wait again.
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
