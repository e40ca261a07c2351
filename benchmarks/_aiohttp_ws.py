"""aiohttp's WebSocket client (``decode_text=False``) behind the connection interface that
``RealtimeSession`` reads from, for measuring the transport alone: the decoder, the queue and
the session above it are the library's own.

The benchmark swaps :func:`open_connection` in for the library's while it measures. The happy
path and a clean close are what a benchmark needs; it is not a second implementation of the
library's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from kiwoom_async._wsconn import CLOSE_ABNORMAL, CLOSE_INTERNAL_ERROR, WsClosedError

_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


class AiohttpConnection:
    def __init__(
        self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse[Any]
    ) -> None:
        self._http = http
        self._ws = ws
        loop = asyncio.get_running_loop()
        self._closed: asyncio.Future[None] = loop.create_future()
        self._inbox: deque[bytes] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._deliver: Callable[[bytes], None] | None = None
        self._sends: set[asyncio.Task[Any]] = set()
        self._reader = loop.create_task(self._read())

    async def _read(self) -> None:
        ws = self._ws
        receive = ws.receive
        try:
            while True:
                message = await receive()
                if message.type in _DATA:
                    deliver = self._deliver
                    if deliver is not None:
                        deliver(message.data)
                    else:
                        self._inbox.append(message.data)
                        if self._inbox_waiter is not None and not self._inbox_waiter.done():
                            self._inbox_waiter.set_result(None)
                    continue
                self._set_closed(WsClosedError(ws.close_code or CLOSE_ABNORMAL, "closed"))
                return
        except Exception as exc:
            self._set_closed(exc)
            await ws.close(code=CLOSE_INTERNAL_ERROR)

    def _set_closed(self, error: BaseException) -> None:
        if not self._closed.done():
            self._closed.set_exception(error)
            self._closed.exception()
        if self._inbox_waiter is not None and not self._inbox_waiter.done():
            self._inbox_waiter.set_result(None)

    async def recv(self) -> bytes:
        while not self._inbox:
            if self._closed.done():
                self._closed.result()
            self._inbox_waiter = asyncio.get_running_loop().create_future()
            await asyncio.wait({self._inbox_waiter, self._closed}, return_when="FIRST_COMPLETED")
        return self._inbox.popleft()

    def start_delivery(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver
        while self._inbox:
            deliver(self._inbox.popleft())

    def send_text(self, data: bytes) -> None:
        if self._closed.done() or self._ws.closed:
            raise WsClosedError(CLOSE_ABNORMAL, "the connection is closing")
        task = asyncio.get_running_loop().create_task(
            self._ws.send_frame(data, aiohttp.WSMsgType.TEXT)
        )
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def ping(self, timeout: float) -> None:
        await self._ws.ping()

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)
        self._closed.result()

    def fail(self, code: int, reason: str, error: BaseException | None = None) -> None:
        self._set_closed(error if error is not None else WsClosedError(code, reason))
        asyncio.get_running_loop().create_task(self._ws.close(code=code))

    async def close(self, timeout: float = 2.0) -> None:
        self._set_closed(WsClosedError(1000, "closed by the client"))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        await self._http.close()


async def open_connection(
    url: str,
    *,
    open_timeout: float,
    max_size: int,
    logger: logging.Logger,
    ssl_context: ssl.SSLContext | None = None,
) -> AiohttpConnection:
    http = aiohttp.ClientSession()
    try:
        async with asyncio.timeout(open_timeout):
            ws = await http.ws_connect(
                url, autoping=True, max_msg_size=max_size, decode_text=False, compress=0
            )
    except BaseException:
        await http.close()
        raise
    return AiohttpConnection(http, ws)
