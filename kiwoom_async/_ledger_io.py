"""Ledger calls from async code: off the event loop for a blocking ledger, and safe across
the caller's cancellation.

A :class:`~kiwoom_async.ledger.FileLedger` takes a file lock and fsyncs, so its calls run in
anyio's worker threads, not the loop's default executor: aiohttp resolves host names there,
and a ledger waiting on another process's lock must not starve it. One thread per runner,
since the ledger serialises its operations anyway. A memory ledger is called in place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from .ledger import OrderAck, OrderLedger

__all__ = ["LedgerRunner"]

log = logging.getLogger("kiwoom_async.ledger")

_T = TypeVar("_T")


class LedgerRunner:
    def __init__(self, ledger: OrderLedger) -> None:
        self.ledger = ledger
        # Writes left running in worker threads by cancelled calls, held so that they are not
        # garbage-collected before they finish.
        self._background: set[asyncio.Future[Any]] = set()
        self._threads: anyio.CapacityLimiter | None = None

    async def run(self, operation: Callable[..., _T], *args: Any) -> _T:
        if self.ledger.blocking:
            return await self._in_thread(operation, *args)
        return operation(*args)

    async def claim(self, key: str, api_id: str, body: Mapping[str, str]) -> OrderAck | None:
        """:meth:`OrderLedger.begin` for ``key``. Cancelled while a worker thread claims it,
        the key is handed back once claimed: nothing will be sent on it."""
        if not self.ledger.blocking:
            return self.ledger.begin(key, api_id, body)
        claim = asyncio.ensure_future(self._in_thread(self.ledger.begin, key, api_id, body))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            claim.add_done_callback(lambda done: self._give_back(key, done))
            raise

    def record_soon(self, operation: Callable[..., object], *args: Any) -> None:
        """Record a state change from a path that cannot await (a cancellation, a callback).

        A memory ledger records at once; a blocking one in a worker thread, submitted now so
        that it runs even if the loop stops first (the loop waits for its executor on close).
        A failure is logged: the exception being raised must stay the caller's. Until the
        record lands the key stays ``inflight``, which blocks repeats just the same."""
        if not self.ledger.blocking:
            try:
                operation(*args)
            except Exception:
                log.exception("ledger: could not record %s%r", operation.__name__, args)
            return
        future = asyncio.get_running_loop().run_in_executor(None, operation, *args)
        self._background.add(future)

        def settled(done: asyncio.Future[object]) -> None:
            self._background.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.error(
                    "ledger: could not record %s%r",
                    operation.__name__,
                    args,
                    exc_info=done.exception(),
                )

        future.add_done_callback(settled)

    def _give_back(self, key: str, claim: asyncio.Future[OrderAck | None]) -> None:
        if not claim.cancelled() and claim.exception() is None and claim.result() is None:
            self.record_soon(self.ledger.reject, key, "cancelled before the order was sent")

    async def _in_thread(self, operation: Callable[..., _T], *args: Any) -> _T:
        if self._threads is None:
            # Made here, inside the loop: older anyio binds a limiter to the running loop.
            self._threads = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(operation, *args, limiter=self._threads)
