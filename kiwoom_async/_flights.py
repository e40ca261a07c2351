"""The calls in flight on a RestSession, so that closing the session ends each one cleanly.

Closing is the library's decision, not the caller's: a call it interrupts raises
:class:`~kiwoom_async.errors.SessionClosedError` rather than a bare ``CancelledError`` (the
caller's own cancellation still propagates as one). An order that already holds a connection
may be on the wire, so it is not interrupted: the session waits for its answer, up to a grace
period, and an order still unanswered then is reported as of unknown state. An order that
never got a connection was provably not sent.

Whether a request "got a connection" comes from aiohttp's tracing signals, which fire once a
connection is obtained and before any byte of the request is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from types import SimpleNamespace
from typing import Any

import aiohttp

__all__ = ["Flight", "Flights"]


class Flight:
    """One call: its task, whether it is an order, and whether it may have left."""

    __slots__ = ("_on_send", "closing", "is_order", "on_wire", "task")

    def __init__(self, is_order: bool, on_send: Callable[[], None] | None) -> None:
        self.task = asyncio.current_task()
        self.is_order = is_order
        self.on_wire = False
        """A connection was obtained for a request of this call: bytes may have left."""
        self.closing = False
        """The session cancelled this call because it is closing."""
        self._on_send = on_send

    def leaving(self) -> None:
        if not self.on_wire:
            self.on_wire = True
            if self._on_send is not None:
                self._on_send()

    def request_ctx(self) -> SimpleNamespace:
        """What to pass as ``trace_request_ctx`` so the tracing signals find this flight."""
        return SimpleNamespace(flight=self)

    def interrupted_by_close(self) -> bool:
        """Whether the CancelledError being handled is the session's close and nobody else's.
        If so it is taken back (``uncancel``), and the caller raises an error of its own."""
        task = self.task
        if not self.closing or task is None or task.cancelling() != 1:
            return False
        task.uncancel()
        return True


class Flights:
    def __init__(self) -> None:
        self._active: set[Flight] = set()

    def __len__(self) -> int:
        return len(self._active)

    @contextlib.contextmanager
    def track(
        self, is_order: bool, on_send: Callable[[], None] | None
    ) -> Generator[Flight, None, None]:
        flight = Flight(is_order, on_send)
        self._active.add(flight)
        try:
            yield flight
        finally:
            self._active.discard(flight)

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_connection_create_end.append(_connected)
        config.on_connection_reuseconn.append(_connected)
        return config

    async def land(self, grace: float) -> None:
        """Interrupt every call that can be interrupted without blurring an order's state,
        and give orders already on the wire ``grace`` seconds to get their answer."""
        me = asyncio.current_task()
        waiting: list[asyncio.Task[Any]] = []
        for flight in list(self._active):
            task = flight.task
            if task is None or task is me or task.done():
                continue
            waiting.append(task)
            if not (flight.is_order and flight.on_wire):
                flight.closing = True
                task.cancel()
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=grace)
            for flight in list(self._active):
                if flight.task in late:
                    flight.closing = True
                    assert flight.task is not None
                    flight.task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace)


async def _connected(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
    flight = getattr(context.trace_request_ctx, "flight", None)
    if isinstance(flight, Flight):
        flight.leaving()
