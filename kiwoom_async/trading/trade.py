"""The live :class:`Trade`: a handle on one trade's plain state that can be awaited and
iterated while the trading session keeps the state current."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

from ..errors import KiwoomError, KiwoomValidationError
from .book import TradeUpdate
from .model import Fill, Leg, LogEntry, OrderSpec, TradeState, TradeStatus

__all__ = [
    "Trade",
    "TradeNotOpenError",
    "TradeTimeoutError",
    "TradingClosedError",
    "TradingError",
]


class TradingError(KiwoomError):
    """Base of the errors of the trading session."""


class TradeTimeoutError(TradingError, TimeoutError):
    """A trade did not reach what was awaited in time (it goes on; await it again)."""


class TradingClosedError(TradingError):
    """The trading session closed while this was waited for."""


class TradeNotOpenError(KiwoomValidationError):
    """A modify or cancel of a trade with nothing working any more; nothing was sent."""


_END: Final = None


class Trade:
    """One order and everything that became of it: order numbers, status, fills, log.

    The fields read the current state (``trade.state``, plain data); ``await trade.done()``,
    ``await trade.filled()`` and ``async for update in trade.updates()`` wait for changes.
    """

    __slots__ = ("_closed", "_listeners", "_waiters", "state")

    def __init__(self, state: TradeState) -> None:
        self.state = state
        self._listeners: list[asyncio.Queue[TradeUpdate | None]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def __repr__(self) -> str:
        state = self.state
        origin = " external" if state.external else ""
        return (
            f"<Trade {state.order.side} {state.order.stk_cd} {state.filled_qty}/"
            f"{state.order.qty} {state.status.value}{origin} ord_nos={state.ord_nos}>"
        )

    # --- the state ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.state.id

    @property
    def order(self) -> OrderSpec:
        """The order as sent."""
        return self.state.order

    @property
    def status(self) -> TradeStatus:
        return self.state.status

    @property
    def ord_no(self) -> str | None:
        """The order's first number (None until the server gave one)."""
        return self.state.ord_no

    @property
    def ord_nos(self) -> list[str]:
        """Every number of the chain: original, modifies, cancels."""
        return self.state.ord_nos

    @property
    def current_ord_no(self) -> str | None:
        """The newest order of the chain still working: what a modify or cancel refers to."""
        return self.state.current_ord_no

    @property
    def legs(self) -> list[Leg]:
        return self.state.legs

    @property
    def fills(self) -> list[Fill]:
        return self.state.fills

    @property
    def log(self) -> list[LogEntry]:
        return self.state.log

    @property
    def filled_qty(self) -> int:
        return self.state.filled_qty

    @property
    def remaining_qty(self) -> int:
        return self.state.remaining_qty

    @property
    def avg_price(self) -> float:
        return self.state.avg_price

    @property
    def external(self) -> bool:
        return self.state.external

    def is_done(self) -> bool:
        return self.state.status.done

    # --- waiting ------------------------------------------------------------------------

    async def done(self, timeout: float | None = None) -> TradeStatus:
        """Wait until the trade is filled, cancelled or rejected; its final status.
        Raises :class:`TradeTimeoutError` after ``timeout`` seconds."""
        await self._wait(lambda: self.state.status.done, timeout, "done")
        return self.state.status

    async def filled(self, qty: int | None = None, timeout: float | None = None) -> int:
        """Wait until ``qty`` shares (default: all) have filled, or the trade is done with
        fewer; the filled quantity."""
        target = self.state.order.qty if qty is None else qty
        await self._wait(
            lambda: self.state.filled_qty >= target or self.state.status.done,
            timeout,
            f"{target} filled",
        )
        return self.state.filled_qty

    async def updates(self) -> AsyncIterator[TradeUpdate]:
        """Every change from now on (status, fill, leg), ending after the trade is done."""
        if self.state.status.done or self._closed:
            return
        queue: asyncio.Queue[TradeUpdate | None] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                update = await queue.get()
                if update is None:
                    return
                yield update
                if update.kind == "status" and update.status.done:
                    return
        finally:
            self._listeners.remove(queue)

    async def _wait(self, reached: object, timeout: float | None, what: str) -> None:
        assert callable(reached)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while not reached():
                    if self._closed:
                        raise TradingClosedError(f"the trading session closed before {what}")
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise TradeTimeoutError(
                f"trade {self.state.ord_no or self.state.id} not {what} after {timeout} s "
                f"(status {self.state.status.value})"
            ) from None

    # --- fed by the session -------------------------------------------------------------

    def _push(self, update: TradeUpdate) -> None:
        for queue in self._listeners:
            queue.put_nowait(update)
        self._wake()

    def _close(self) -> None:
        self._closed = True
        for queue in self._listeners:
            queue.put_nowait(_END)
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
