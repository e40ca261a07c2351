"""The WebSocket client connection under RealtimeSession: RFC 6455 over an asyncio Protocol.

The opening handshake is websockets' sans-I/O ``ClientProtocol`` (request, response checks,
its ``InvalidHandshake`` errors). Frames after it are read here, because a busy realtime feed
is one small text message per event: a general-purpose client spends several microseconds of
Python per message on generators, queues and a task switch, which is most of the cost of an
event. This reader parses the frames of each received chunk in one loop and hands every
message to a callback synchronously, so a chunk of a hundred events costs one wake-up.

What the Kiwoom server needs and nothing more: text and binary messages (fragmented or not),
PING answered with PONG, the closing handshake, a size limit, optional keepalive pings. No
extensions are offered, so frames never carry RSV bits. A message is delivered as the bytes
received; whether it is valid UTF-8 JSON is the decoder's business (a bad one is counted and
skipped there, rather than failing the connection).

Two ways to read: ``await recv()`` while logging in, then ``start_delivery(callback)`` for the
steady state. An exception raised by the callback closes the connection and is re-raised by
:meth:`WsConnection.wait_closed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import struct
from collections import deque
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.exceptions import ProtocolError
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.uri import parse_uri

__all__ = ["WsClosedError", "WsConnection", "open_connection"]

_OP_CONT, _OP_TEXT, _OP_BINARY = 0x0, 0x1, 0x2
_OP_CLOSE, _OP_PING, _OP_PONG = 0x8, 0x9, 0xA
_UNPACK_16 = struct.Struct("!H").unpack_from
_UNPACK_64 = struct.Struct("!Q").unpack_from

_MAX_RESPONSE_HEAD = 1 << 16

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_ABNORMAL = 1006
"""No closing handshake: the TCP connection just ended (never sent on the wire)."""


class WsClosedError(ConnectionError):
    """The connection ended. ``code`` is the close code received (or sent, when this side
    closed first); 1006 when the TCP connection ended without a closing handshake."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code} {reason}".rstrip())


class WsConnection(asyncio.Protocol):
    """One client connection. Create it with :func:`open_connection`."""

    def __init__(self, url: str, max_size: int, logger: logging.Logger) -> None:
        self._handshake: ClientProtocol | None = ClientProtocol(parse_uri(url), max_size=max_size)
        self._max_size = max_size
        self._log = logger
        self._debug = False
        self._transport: asyncio.Transport | None = None
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._response_head_seen = False
        self._fragments: list[bytes] = []
        self._fragmented_size = 0
        self._inbox: deque[bytes] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._deliver: Callable[[bytes], None] | None = None
        self._close_sent = False
        self._reading_done = False
        """Set by a received CLOSE or a failure: nothing after it is read."""
        self._pong_waiter: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        assert self._handshake is not None
        self._transport = transport
        self._debug = self._log.isEnabledFor(logging.DEBUG)
        request = self._handshake.connect()
        request.headers["User-Agent"] = USER_AGENT  # what websockets' own client sends
        self._handshake.send_request(request)
        transport.write(b"".join(self._handshake.data_to_send()))

    def data_received(self, data: bytes) -> None:
        if self._reading_done:
            return  # after a CLOSE or a failure, whatever still arrives is not read
        try:
            if self._handshake is not None:
                self._handshake_data(data)
            else:
                self._read_frames(data)
        except _ProtocolFailure as failure:
            self.fail(failure.code, failure.reason)
        except BaseException as exc:  # the delivery callback's: end the connection with it
            # Even KeyboardInterrupt: the loop may read again before it stops, and a half-
            # parsed buffer must never be parsed twice.
            self.fail(CLOSE_INTERNAL_ERROR, "", exc)
            if not isinstance(exc, Exception):
                raise

    def eof_received(self) -> bool:
        if self._handshake is not None:
            self._handshake.receive_eof()
            self._handshake_events()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._lost.set_result(None)
        if not self._opened.done():
            error = self._handshake.handshake_exc if self._handshake is not None else None
            self._opened.set_exception(
                error or ConnectionError(f"connection lost during the opening handshake: {exc}")
            )
            self._opened.exception()  # retrieved: the opener may have timed out already
        self._set_closed(WsClosedError(CLOSE_ABNORMAL, "connection lost"))
        if self._pong_waiter is not None and not self._pong_waiter.done():
            self._pong_waiter.cancel()

    # --- opening handshake ---------------------------------------------------------------

    async def opened(self) -> None:
        """Wait for the end of the opening handshake; raise why it failed."""
        await self._opened

    def _handshake_data(self, data: bytes) -> None:
        handshake = self._handshake
        assert handshake is not None
        if self._response_head_seen:
            # An answer other than 101 with a body: websockets reads it for its error.
            handshake.receive_data(data)
            self._handshake_events()
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_RESPONSE_HEAD:
                self._abort_open(ConnectionError("no end to the HTTP response headers"))
            return
        # Only the response head goes to websockets: frames right behind it are ours, and
        # websockets would keep a partial one in a buffer of its own.
        self._response_head_seen = True
        head, rest = bytes(self._buffer[: end + 4]), bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        handshake.receive_data(head)
        self._handshake_events()
        if self._handshake is None:
            self._read_frames(rest)
        elif rest:
            handshake.receive_data(rest)
            self._handshake_events()

    def _handshake_events(self) -> None:
        handshake = self._handshake
        assert handshake is not None
        events = handshake.events_received()
        if handshake.handshake_exc is not None:
            self._abort_open(handshake.handshake_exc)
            return
        if not events:
            return  # a response body is still arriving
        assert isinstance(events[0], Response) and len(events) == 1
        self._handshake = None
        self._opened.set_result(None)

    def _abort_open(self, error: Exception) -> None:
        if not self._opened.done():
            self._opened.set_exception(error)
            self._opened.exception()
        if self._transport is not None:
            self._transport.abort()

    # --- reading -------------------------------------------------------------------------

    def _read_frames(self, data: bytes) -> None:
        """Handle every complete frame of the buffered bytes plus ``data``; keep the rest."""
        if self._buffer:
            self._buffer += data
            # A view slices without copying; it must be released before the buffer shrinks.
            with memoryview(self._buffer) as view:
                consumed = self._parse(view)
            del self._buffer[:consumed]
        else:
            consumed = self._parse(data)
            if consumed < len(data):
                self._buffer += data[consumed:]

    def _parse(self, buf: bytes | memoryview) -> int:
        """Handle every complete frame in ``buf``; return how many bytes they took."""
        pos = 0
        end_of_data = len(buf)
        max_size = self._max_size
        deliver = self._deliver or self._queue_message
        debug = self._debug
        while end_of_data - pos >= 2:
            head, size = buf[pos], buf[pos + 1]
            start = pos + 2
            if size > 125 or head & 0x70:
                if size & 0x80 or head & 0x70:
                    # A server never masks, and no extension was negotiated to use RSV bits.
                    raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, "masked frame or RSV bits set")
                if size == 126:
                    if end_of_data - start < 2:
                        break
                    size = _UNPACK_16(buf, start)[0]
                    start += 2
                elif size == 127:
                    if end_of_data - start < 8:
                        break
                    size = _UNPACK_64(buf, start)[0]
                    start += 8
                if size > max_size:
                    raise _ProtocolFailure(CLOSE_TOO_BIG, f"frame of {size} bytes")
            end = start + size
            if end > end_of_data:
                break
            pos = end
            if head == 0x81 and not self._fragments:
                # The case that matters for speed: a whole text message (FIN, opcode 1).
                message = bytes(buf[start:end])
                if debug:
                    self._log.debug("< TEXT %s", message[:2000])
                deliver(message)
            else:
                self._on_frame(head & 0x0F, bool(head & 0x80), bytes(buf[start:end]))
                if self._reading_done:
                    break
        return pos

    def _on_frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode >= _OP_CLOSE:
            if not fin or len(payload) > 125:
                raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, "fragmented or long control frame")
            if opcode == _OP_PING:
                self._write(Opcode.PONG, payload)
            elif opcode == _OP_PONG:
                if self._pong_waiter is not None and not self._pong_waiter.done():
                    self._pong_waiter.set_result(None)
            elif opcode == _OP_CLOSE:
                self._on_close_frame(payload)
            else:
                raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return
        if opcode in (_OP_TEXT, _OP_BINARY):
            if self._fragments:
                raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
        elif opcode == _OP_CONT:
            if not self._fragments:
                raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, "continuation without a message")
        else:
            raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        self._fragmented_size += len(payload)
        if self._fragmented_size > self._max_size:
            raise _ProtocolFailure(CLOSE_TOO_BIG, f"message over {self._max_size} bytes")
        if not fin:
            self._fragments.append(payload)
            return
        if self._fragments:
            self._fragments.append(payload)
            payload = b"".join(self._fragments)
            self._fragments.clear()
        self._fragmented_size = 0
        if self._debug:
            self._log.debug("< DATA %s", payload[:2000])
        (self._deliver or self._queue_message)(payload)

    def _on_close_frame(self, payload: bytes) -> None:
        try:
            close = Close.parse(payload)  # checks the length, the code and the reason's UTF-8
        except (ProtocolError, UnicodeDecodeError) as exc:
            raise _ProtocolFailure(CLOSE_PROTOCOL_ERROR, f"invalid close frame: {exc}") from None
        code, reason = int(close.code), close.reason
        if self._debug:
            self._log.debug("< CLOSE %d %s", code, reason)
        self._reading_done = True
        if not self._close_sent:
            # Echo the code; a close without one is answered without one.
            no_code = code == CloseCode.NO_STATUS_RCVD
            self._write(Opcode.CLOSE, b"" if no_code else Close(code, "").serialize())
            self._close_sent = True
        self._set_closed(WsClosedError(code, reason))
        if self._transport is not None:
            self._transport.close()

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
        self._write(Opcode.TEXT, data)

    def _write(self, opcode: Opcode, payload: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise WsClosedError(CLOSE_ABNORMAL, "the connection is closed")
        transport.write(Frame(opcode, payload).serialize(mask=True))

    async def ping(self, timeout: float) -> None:
        """A protocol-level ping; raises TimeoutError when no PONG comes within ``timeout``.

        One ping at a time (the keepalive's): any PONG answers it, as RFC 6455 allows."""
        self._pong_waiter = asyncio.get_running_loop().create_future()
        self._write(Opcode.PING, os.urandom(4))
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
        """The closing handshake (code 1000), then the TCP connection, within ``timeout``."""
        transport = self._transport
        if transport is None:
            return
        if not self._close_sent and not self._closed.done():
            with contextlib.suppress(WsClosedError):
                self._write(Opcode.CLOSE, struct.pack("!H", CLOSE_NORMAL))
            self._close_sent = True
            self._set_closed(WsClosedError(CLOSE_NORMAL, "closed by the client"))
        try:
            # The server answers CLOSE and ends the TCP connection.
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._lost)
        except TimeoutError:
            transport.abort()
        except BaseException:
            transport.abort()  # cancelled: the socket must not outlive this call
            raise

    def fail(self, code: int, reason: str, error: BaseException | None = None) -> None:
        """End the connection now with close ``code``: after a protocol violation, a delivery
        callback's exception, or a caller's verdict (a missing PONG). :meth:`wait_closed`
        raises ``error``, or :class:`WsClosedError` with this code and reason."""
        self._log.warning("closing the WebSocket connection: %s %s", code, reason or error)
        self._reading_done = True
        if not self._close_sent and self._transport is not None:
            with contextlib.suppress(WsClosedError):
                self._write(Opcode.CLOSE, struct.pack("!H", code) + reason.encode()[:120])
            self._close_sent = True
        self._set_closed(error if error is not None else WsClosedError(code, reason))
        if self._transport is not None:
            self._transport.close()

    def _set_closed(self, error: BaseException) -> None:
        if not self._closed.done():
            self._closed.set_exception(error)
            self._closed.exception()  # retrieved: nobody may be waiting
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _ProtocolFailure(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


async def open_connection(
    url: str,
    *,
    open_timeout: float,
    max_size: int,
    logger: logging.Logger,
    ssl_context: ssl.SSLContext | None = None,
) -> WsConnection:
    """Connect (TCP, TLS for ``wss://``) and complete the opening handshake.

    Raises OSError or TimeoutError for network faults and websockets' ``InvalidHandshake``
    for an answer that is not a WebSocket upgrade (an HTTP error status, for example)."""
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    context = None
    if uri.secure:
        context = ssl_context or ssl.create_default_context()
    async with asyncio.timeout(open_timeout):
        transport, connection = await loop.create_connection(
            lambda: WsConnection(url, max_size, logger),
            uri.host,
            uri.port,
            ssl=context,
            server_hostname=uri.host if context is not None else None,
        )
        try:
            await connection.opened()
        except BaseException:
            transport.abort()
            raise
    return connection
