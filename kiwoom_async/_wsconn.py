"""The WebSocket client connection under RealtimeSession, on aiohttp's WebSocket client.

aiohttp's frame reader is compiled and kept by a large project; with ``decode_text=False`` a
text message arrives as the bytes received, which msgspec decodes without a UTF-8 round trip.
Under the same session, decoder and queue it cost 1.02-1.09x the CPU per event of the
RFC 6455 reader written here before it (0D and 0B frames, five alternated rounds in three
runs; README, Performance), so the reader went and aiohttp does the framing.

What this module adds is what the session needs on top: two ways to read (``await recv()``
while logging in, then ``start_delivery(callback)`` for the steady state, every message handed
to the callback as it is read), PINGs answered here, a CLOSE answered with its own code (or
none, as it came), messages that arrive after this side sent CLOSE still delivered (aiohttp's
own ``close()`` would read them away, fills included), and one error type for the end of the
connection (:class:`WsClosedError`, with the close code). An exception raised by the callback
closes the connection (1011) and is re-raised by :meth:`WsConnection.wait_closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp

__all__ = ["WsClosedError", "WsConnection", "WsHandshakeError", "open_connection"]

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_CODE = 1005
"""A CLOSE without a code (never sent on the wire)."""
CLOSE_ABNORMAL = 1006
"""No closing handshake: the TCP connection just ended (never sent on the wire)."""
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

_TEXT, _BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
_PING, _PONG = aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG
_CLOSE, _ERROR = aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR


class WsClosedError(ConnectionError):
    """The connection ended. ``code`` is the close code received (or sent, when this side
    closed first); 1006 when the TCP connection ended without a closing handshake."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code} {reason}".rstrip())


class WsHandshakeError(ConnectionError):
    """The server answered the upgrade with something other than 101 (``status``)."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        super().__init__(f"WebSocket upgrade refused: HTTP {status} {message}".rstrip())


class WsConnection:
    """One client connection. Create it with :func:`open_connection`."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse[Any],
        logger: logging.Logger,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._http = http
        self._ws = ws
        self._log = logger
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._closed: asyncio.Future[None] = loop.create_future()
        self._inbox: deque[bytes] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._deliver: Callable[[bytes], None] | None = None
        self._close_sent = False
        self._dropped = False
        self._pong_waiter: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        """Sends and the closing of the TCP connection, in the order they were asked for."""
        self._reader = loop.create_task(self._read(), name="WsConnection._read")

    # --- reading -------------------------------------------------------------------------

    async def _read(self) -> None:
        ws = self._ws
        receive = ws.receive
        try:
            while True:
                message = await receive()
                kind = message.type
                if kind is _TEXT or kind is _BINARY:
                    data: bytes = message.data
                    if self._debug:
                        self._log.debug("< DATA %s", data[:2000])
                    deliver = self._deliver
                    if deliver is not None:
                        deliver(data)
                    else:
                        self._queue_message(data)
                elif kind is _PING:
                    await ws.pong(message.data)
                elif kind is _PONG:
                    if self._pong_waiter is not None and not self._pong_waiter.done():
                        self._pong_waiter.set_result(None)
                elif kind is _CLOSE:
                    await self._on_close(message.data, message.extra or "")
                    return
                elif kind is _ERROR:
                    # aiohttp has already answered with the error's close code.
                    code = getattr(message.data, "code", CLOSE_PROTOCOL_ERROR)
                    self._close_sent = True
                    self._log.warning("closing the WebSocket connection: %s %s", code, message.data)
                    self._set_closed(WsClosedError(code, str(message.data)))
                    return
                else:  # CLOSED, CLOSING: the TCP connection ended
                    self._set_closed(WsClosedError(CLOSE_ABNORMAL, "connection lost"))
                    return
        except Exception as exc:  # the delivery callback's: end the connection with it
            self.fail(CLOSE_INTERNAL_ERROR, "", exc)
        finally:
            self._set_closed(WsClosedError(CLOSE_ABNORMAL, "connection lost"))
            if self._pong_waiter is not None and not self._pong_waiter.done():
                self._pong_waiter.cancel()

    async def _on_close(self, code: int, reason: str) -> None:
        if self._debug:
            self._log.debug("< CLOSE %d %s", code, reason)
        self._set_closed(WsClosedError(code or CLOSE_NO_CODE, reason))
        if not self._close_sent:
            # Echo the code; a close without one is answered without one.
            self._close_sent = True
            with contextlib.suppress(Exception):
                await self._ws.send_frame(b"" if not code else struct.pack("!H", code), _CLOSE)
        self._drop()

    def _queue_message(self, message: bytes) -> None:
        self._inbox.append(message)
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> bytes:
        """The next message, before :meth:`start_delivery`. Raises :class:`WsClosedError`."""
        while not self._inbox:
            if self._closed.done():
                self._closed.result()  # raises the close cause
            self._inbox_waiter = asyncio.get_running_loop().create_future()
            waiting_for = {self._inbox_waiter, self._closed}
            await asyncio.wait(waiting_for, return_when=asyncio.FIRST_COMPLETED)
        return self._inbox.popleft()

    def start_delivery(self, deliver: Callable[[bytes], None]) -> None:
        """From now on hand every message to ``deliver`` as it is read, starting with those
        already received. An exception from ``deliver`` closes the connection (code 1011)
        and comes out of :meth:`wait_closed`."""
        self._deliver = deliver
        while self._inbox:
            try:
                deliver(self._inbox.popleft())
            except Exception as exc:
                self.fail(CLOSE_INTERNAL_ERROR, "", exc)
                return

    # --- writing -------------------------------------------------------------------------

    def send_text(self, data: bytes) -> None:
        """Queue one text message for sending. Raises :class:`WsClosedError` once closing."""
        if self._closed.done() or self._close_sent:
            raise WsClosedError(CLOSE_ABNORMAL, "the connection is closing")
        if self._debug:
            self._log.debug("> TEXT %s", data[:2000])
        self._spawn(self._ws.send_frame(data, _TEXT))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # Tasks start in the order they are made, and each writes before it first waits:
        # frames leave in the order they were asked for.
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.debug("WebSocket write failed: %r", task.exception())

    async def ping(self, timeout: float) -> None:
        """A protocol-level ping; raises TimeoutError when no PONG comes within ``timeout``.

        One ping at a time (the keepalive's): any PONG answers it, as RFC 6455 allows."""
        self._pong_waiter = asyncio.get_running_loop().create_future()
        await self._ws.ping(os.urandom(4))
        async with asyncio.timeout(timeout):
            await self._pong_waiter

    # --- closing -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> None:
        """Wait for the end of the connection and raise its cause: :class:`WsClosedError`,
        or the exception the delivery callback raised."""
        await asyncio.shield(self._closed)
        self._closed.result()

    async def close(self, timeout: float = 2.0) -> None:
        """The closing handshake (code 1000), then the TCP connection, within ``timeout``.
        Messages that arrive before the server's answer are still delivered."""
        try:
            if not self._close_sent and not self._closed.done():
                self._close_sent = True
                self._set_closed(WsClosedError(CLOSE_NORMAL, "closed by the client"))
                self._spawn(self._ws.send_frame(struct.pack("!H", CLOSE_NORMAL), _CLOSE))
            # The server answers CLOSE, or ends the TCP connection: the reader stops.
            await asyncio.wait({self._reader}, timeout=timeout)
        except BaseException:
            self._drop()  # cancelled: the socket must not outlive this call
            self._reader.cancel()
            raise
        self._drop()
        self._reader.cancel()
        await asyncio.gather(self._reader, *self._tasks, return_exceptions=True)
        await self._http.close()

    def fail(self, code: int, reason: str, error: BaseException | None = None) -> None:
        """End the connection now with close ``code``: after a delivery callback's
        exception, or a caller's verdict (a missing PONG). :meth:`wait_closed` raises
        ``error``, or :class:`WsClosedError` with this code and reason."""
        self._log.warning("closing the WebSocket connection: %s %s", code, reason or error)
        self._deliver = None
        self._set_closed(error if error is not None else WsClosedError(code, reason))
        if asyncio.current_task() is not self._reader:
            self._reader.cancel()  # nothing after this verdict is read
        if not self._close_sent:
            self._close_sent = True
            payload = struct.pack("!H", code) + reason.encode()[:120]
            self._spawn(self._close_then_drop(payload))
        else:
            self._drop()

    async def _close_then_drop(self, payload: bytes) -> None:
        try:
            await self._ws.send_frame(payload, _CLOSE)
        finally:
            self._drop()

    def _drop(self) -> None:
        """End the TCP connection (no waiting: this also runs in a cancelled close)."""
        if self._dropped:
            return
        self._dropped = True
        connector = self._http.connector
        if connector is not None and not connector.closed:
            self._spawn(self._release(connector.close()))

    async def _release(self, socket_closed: Awaitable[None]) -> None:
        await socket_closed
        # The socket is gone, so aiohttp's close() writes nothing: it only lets go of the
        # response and its connection.
        with contextlib.suppress(Exception):
            await self._ws.close()

    def _set_closed(self, error: BaseException) -> None:
        if not self._closed.done():
            self._closed.set_exception(error)
            self._closed.exception()  # retrieved: nobody may be waiting
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def open_connection(
    url: str,
    *,
    open_timeout: float,
    max_size: int,
    logger: logging.Logger,
    ssl_context: ssl.SSLContext | None = None,
) -> WsConnection:
    """Connect (TCP, TLS for ``wss://``) and complete the opening handshake.

    Raises OSError (:class:`WsHandshakeError` for an answer that is not a WebSocket upgrade,
    an HTTP error status for example) or TimeoutError."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        async with asyncio.timeout(open_timeout):
            ws = await http.ws_connect(
                url,
                autoclose=False,
                autoping=False,
                max_msg_size=max_size,
                decode_text=False,
                compress=0,  # no extension offered: frames never carry RSV bits
                ssl=ssl_context if ssl_context is not None else True,
            )
    except aiohttp.WSServerHandshakeError as exc:
        await http.close()
        raise WsHandshakeError(exc.status, exc.message) from None
    except OSError:
        await http.close()
        raise
    except aiohttp.ClientError as exc:  # the server hung up during the handshake
        await http.close()
        raise ConnectionError(f"WebSocket handshake failed: {exc!r}") from None
    except BaseException:
        await http.close()
        raise
    return WsConnection(http, ws, logger)
