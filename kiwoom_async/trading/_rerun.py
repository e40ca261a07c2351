"""A job that runs on request, one run at a time: a request during a run asks for one more
run after it (what the request was about may have happened after the running one started),
and any number of requests meanwhile make just that one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ..errors import KiwoomError

__all__ = ["Rerun"]


class Rerun:
    def __init__(self, job: Callable[[], Awaitable[KiwoomError | None]]) -> None:
        self._job = job
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def request(self) -> None:
        """Run the job soon (once more, if it is running)."""
        if self._closed:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def run(self) -> None:
        """Request a run and wait for it to end; raise the error its last try met."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.request()
        await waiter

    async def close(self, error: BaseException) -> None:
        """Stop; waiters get ``error``."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._settle(self._take_waiters(), error)

    async def _loop(self) -> None:
        while True:
            self._again = False
            waiters = self._take_waiters()
            self._settle(waiters, await self._job())
            if not self._again and not self._waiters:
                return

    def _take_waiters(self) -> list[asyncio.Future[None]]:
        waiters, self._waiters = self._waiters, []
        return waiters

    @staticmethod
    def _settle(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: a waiter that gave up logs nothing
