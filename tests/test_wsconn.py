"""The WebSocket connection under RealtimeSession, against a server that writes exact bytes.

Each test scripts the server side byte for byte (the 101 answer, then frames, split or joined
as the test needs), so framing edge cases are exercised exactly as they would reach the
socket: fragmentation, 16- and 64-bit lengths, frames split across reads, control frames,
the closing handshake and protocol violations. ``websockets`` is the independent server for
the rest.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import trustme
from websockets.asyncio.server import ServerConnection, serve

from kiwoom_async import RealtimeSession, TokenManager
from kiwoom_async._wsconn import WsClosedError, WsConnection, WsHandshakeError, open_connection
from kiwoom_async.models.lifecycle import Connected, Disconnected
from kiwoom_async.retry import Backoff
from tests.conftest import seconds

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
log = logging.getLogger("test.wire")


def frame(payload: bytes, opcode: int = 0x1, fin: bool = True, mask: bool = False) -> bytes:
    """One frame as a server would write it (unmasked unless asked)."""
    head = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = struct.pack("!BB", head, mask_bit | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", head, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", head, mask_bit | 127, n)
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        header += key
    return header + payload


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(opcode, payload) of one masked client frame."""
    head, size = await reader.readexactly(2)
    assert size & 0x80, "a client frame must be masked"
    size &= 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4)
    data = await reader.readexactly(size)
    return head & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def switching_protocols(request: bytes) -> bytes:
    """The 101 answer to an upgrade request."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    digest = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + digest + b"\r\n\r\n"
    )


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, extra: bytes) -> None:
    """Answer the opening handshake with 101, followed in the same write by ``extra``."""
    writer.write(switching_protocols(await reader.readuntil(b"\r\n\r\n")) + extra)
    await writer.drain()


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/api/dostk/websocket"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


class _Tokens(TokenManager):
    """A token manager that needs no REST server."""

    def __init__(self) -> None:
        super().__init__("k", "s")

    async def token(self) -> str:
        return "token"


async def connect(url: str, max_size: int = 1 << 20) -> WsConnection:
    return await open_connection(url, open_timeout=seconds(2), max_size=max_size, logger=log)


async def collect(conn: WsConnection, count: int) -> list[bytes]:
    return [await asyncio.wait_for(conn.recv(), seconds(2)) for _ in range(count)]


async def test_frames_in_the_handshake_write_and_split_across_reads_all_arrive(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    big = b'{"trnm":"REAL","pad":"' + b"x" * 70_000 + b'"}'  # a 64-bit length
    mid = b"m" * 300  # a 16-bit length

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(b"first"))  # same write as the 101
        stream = frame(mid) + frame(big) + frame(b"last")
        for i in range(0, len(stream), 7):  # a few bytes per read
            writer.write(stream[i : i + 7])
            await writer.drain()
        await reader.read()

    conn = await connect(await raw_server(script))
    assert await collect(conn, 4) == [b"first", mid, big, b"last"]
    await conn.close(seconds(1))


async def test_fragments_are_joined_and_a_ping_in_between_is_answered(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    pongs: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        writer.write(
            frame(b'{"a":', opcode=0x1, fin=False)
            + frame(b"beat", opcode=0x9)  # control frames may come between fragments
            + frame(b'"b",', opcode=0x0, fin=False)
            + frame(b'"c":1}', opcode=0x0)
        )
        opcode, payload = await read_client_frame(reader)
        assert opcode == 0xA
        pongs.append(payload)
        await reader.read()

    conn = await connect(await raw_server(script))
    assert await collect(conn, 1) == [b'{"a":"b","c":1}']
    await conn.close(seconds(1))
    assert pongs == [b"beat"]


async def test_delivery_hands_over_buffered_messages_first_then_live_ones_in_order(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    release = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(b"1") + frame(b"2") + frame(b"3"))
        await release.wait()
        writer.write(frame(b"4") + frame(b"5"))
        await reader.read()

    conn = await connect(await raw_server(script))
    assert await collect(conn, 1) == [b"1"]
    await asyncio.sleep(seconds(0.05))  # 2 and 3 are read and waiting
    got: list[bytes] = []
    conn.start_delivery(got.append)
    assert got == [b"2", b"3"]
    release.set()
    async with asyncio.timeout(seconds(2)):
        while len(got) < 4:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    assert got == [b"2", b"3", b"4", b"5"]
    await conn.close(seconds(1))


async def test_the_server_closing_ends_recv_and_wait_closed_with_its_code(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    replies: list[tuple[int, bytes]] = []
    replied = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(struct.pack("!H", 4001) + b"bye", opcode=0x8))
        replies.append(await read_client_frame(reader))
        replies.append((-1, await reader.read()))  # nothing after the echo, then EOF
        replied.set()

    conn = await connect(await raw_server(script))
    with pytest.raises(WsClosedError) as closed:
        await asyncio.wait_for(conn.recv(), seconds(2))
    assert (closed.value.code, closed.value.reason) == (4001, "bye")
    with pytest.raises(WsClosedError):
        await asyncio.wait_for(conn.wait_closed(), seconds(2))
    # The client is closed once it has written its reply; the server reads it a moment later.
    await asyncio.wait_for(replied.wait(), seconds(2))
    assert replies == [(0x8, struct.pack("!H", 4001)), (-1, b"")]  # the close echoed back
    with pytest.raises(WsClosedError):
        conn.send_text(b"{}")


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (bytes([0x80 | 0x40 | 0x1, 2]) + b"hi", 1002),  # RSV1 without an extension
        (frame(b"x" * 200, opcode=0x9), 1002),  # control frame over 125 bytes
        (frame(b"orphan", opcode=0x0), 1002),  # continuation without a message
        (frame(b"y" * 2000), 1009),  # over max_size
    ],
    ids=["rsv", "long-ping", "orphan-continuation", "too-big"],
)
async def test_protocol_violations_close_the_connection_with_the_right_code(
    raw_server: Callable[[Script], Awaitable[str]], bad: bytes, code: int
) -> None:
    sent: list[tuple[int, bytes]] = []
    close_read = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(b"ok") + bad + frame(b"never"))
        sent.append(await read_client_frame(reader))
        close_read.set()
        await reader.read()

    conn = await connect(await raw_server(script), max_size=1000)
    assert await collect(conn, 1) == [b"ok"]
    with pytest.raises(WsClosedError) as closed:
        await asyncio.wait_for(conn.recv(), seconds(2))
    assert closed.value.code == code
    await asyncio.wait_for(conn.close(seconds(1)), seconds(2))
    await asyncio.wait_for(close_read.wait(), seconds(2))
    assert sent and sent[0][0] == 0x8
    assert struct.unpack("!H", sent[0][1][:2])[0] == code


async def test_a_masked_frame_from_the_server_is_read_like_any_other(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    # RFC 6455 lets a client fail the connection on a masked server frame; aiohttp's reader
    # unmasks it instead, and nothing the server sends ends a session.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(b"hi", mask=True) + frame(b"next"))
        await reader.read()

    conn = await connect(await raw_server(script))
    assert await collect(conn, 2) == [b"hi", b"next"]
    await conn.close(seconds(1))


async def test_an_exception_from_the_delivery_callback_closes_and_comes_out_of_wait_closed(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    sent: list[tuple[int, bytes]] = []
    close_read = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        await asyncio.sleep(seconds(0.05))
        writer.write(frame(b"fine") + frame(b"boom") + frame(b"after"))
        sent.append(await read_client_frame(reader))
        close_read.set()
        await reader.read()

    class Boom(Exception):
        pass

    got: list[bytes] = []

    def deliver(message: bytes) -> None:
        if message == b"boom":
            raise Boom
        got.append(message)

    conn = await connect(await raw_server(script))
    conn.start_delivery(deliver)
    with pytest.raises(Boom):
        await asyncio.wait_for(conn.wait_closed(), seconds(2))
    assert got == [b"fine"]  # nothing is delivered after the failure
    await asyncio.wait_for(conn.close(seconds(1)), seconds(2))
    await asyncio.wait_for(close_read.wait(), seconds(2))
    assert sent and struct.unpack("!H", sent[0][1][:2])[0] == 1011


async def test_client_close_is_a_closing_handshake_with_code_1000(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    sent: list[tuple[int, bytes]] = []

    after_close: list[bytes] = []
    done = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        sent.append(await read_client_frame(reader))
        sent.append(await read_client_frame(reader))
        writer.write(frame(sent[-1][1], opcode=0x8))
        await writer.drain()
        after_close.append(await reader.read())  # until the client ends the TCP connection
        done.set()

    conn = await connect(await raw_server(script))
    conn.send_text(b'{"trnm":"LOGIN"}')
    await asyncio.wait_for(conn.close(seconds(2)), seconds(3))
    assert sent == [(0x1, b'{"trnm":"LOGIN"}'), (0x8, struct.pack("!H", 1000))]
    assert conn.closed
    await asyncio.wait_for(done.wait(), seconds(2))
    assert after_close == [b""]  # one CLOSE, nothing after it


async def test_a_refused_upgrade_raises_invalid_status_and_a_dead_port_an_os_error(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
        await writer.drain()

    with pytest.raises(WsHandshakeError) as refused:
        await connect(await raw_server(refuse))
    assert refused.value.status == 403

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(OSError):
        await connect(f"ws://127.0.0.1:{port}/")


async def test_a_server_that_never_answers_the_upgrade_times_out(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    url = await raw_server(silent)
    with pytest.raises(TimeoutError):
        await open_connection(url, open_timeout=seconds(0.1), max_size=1 << 20, logger=log)


async def test_it_speaks_to_the_websockets_server_both_ways() -> None:
    echoed: list[str] = []

    async def handler(connection: ServerConnection) -> None:
        async for message in connection:
            assert isinstance(message, str)
            echoed.append(message)
            await connection.send(message * 2)
            await connection.send(message.encode() * 40_000)  # binary, 64-bit length
            await connection.ping(b"are you there")

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        conn = await connect(f"ws://127.0.0.1:{port}/", max_size=1 << 22)
        conn.send_text("한글".encode())
        assert await collect(conn, 2) == ["한글한글".encode(), "한글".encode() * 40_000]
        await asyncio.wait_for(conn.ping(seconds(1)), seconds(2))  # our ping, its pong
        await conn.close(seconds(1))
    assert echoed == ["한글"]


@pytest.mark.parametrize("answers", [True, False], ids=["pong", "silent"])
async def test_session_keepalive_pings_and_reconnects_when_no_pong_comes(
    raw_server: Callable[[Script], Awaitable[str]], answers: bool
) -> None:
    pings: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        opcode, login = await read_client_frame(reader)
        assert b'"LOGIN"' in login
        writer.write(frame(b'{"trnm":"LOGIN","return_code":0,"return_msg":""}'))
        while True:
            opcode, payload = await read_client_frame(reader)
            if opcode == 0x9:
                pings.append(payload)
                if answers:
                    writer.write(frame(payload, opcode=0xA))
            elif opcode == 0x8:
                return

    url = await raw_server(script)
    interval = seconds(0.05)
    session = RealtimeSession(_Tokens(), url=url, ws_ping_interval=interval)
    events: list[object] = []
    async with session as rt:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval * 8):
                async for event in rt:
                    events.append(event)
                    if isinstance(event, Disconnected):
                        break
    assert isinstance(events[0], Connected)
    if answers:
        assert len(pings) >= 3
        assert not any(isinstance(e, Disconnected) for e in events)
    else:
        assert len(pings) == 1  # the first unanswered ping ends the connection
        assert any(isinstance(e, Disconnected) and "no PONG" in e.cause for e in events)


# --- the closing handshake ----------------------------------------------------------------


async def test_messages_after_the_client_sent_close_are_still_delivered(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        assert (await read_client_frame(reader))[0] == 0x8
        # The server had a fill in flight: a PING, the fill and its CLOSE in one segment.
        writer.write(
            frame(b"p", opcode=0x9)
            + frame(b'{"fill":1}')
            + frame(struct.pack("!H", 1000), opcode=0x8)
        )
        await reader.read()

    conn = await connect(await raw_server(script))
    got: list[bytes] = []
    conn.start_delivery(got.append)
    await asyncio.wait_for(conn.close(seconds(2)), seconds(3))
    assert got == [b'{"fill":1}']


@pytest.mark.parametrize(
    "payload",
    [b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999), struct.pack("!H", 2000)],
    ids=["one-byte", "1005", "999", "2000"],
)
async def test_an_invalid_close_frame_is_answered_with_1002(
    raw_server: Callable[[Script], Awaitable[str]], payload: bytes
) -> None:
    sent: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(payload, opcode=0x8))
        sent.append(await read_client_frame(reader))
        await reader.read()

    conn = await connect(await raw_server(script))
    with pytest.raises(WsClosedError) as closed:
        await asyncio.wait_for(conn.wait_closed(), seconds(2))
    assert closed.value.code == 1002
    await conn.close(seconds(1))
    assert sent[0][0] == 0x8 and sent[0][1][:2] == struct.pack("!H", 1002)


async def test_a_close_without_a_code_is_answered_without_one(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    sent: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, frame(b"", opcode=0x8))
        sent.append(await read_client_frame(reader))
        await reader.read()

    conn = await connect(await raw_server(script))
    with pytest.raises(WsClosedError) as closed:
        await asyncio.wait_for(conn.wait_closed(), seconds(2))
    assert closed.value.code == 1005  # "no status received", never on the wire
    await conn.close(seconds(1))
    assert sent == [(0x8, b"")]


async def test_a_cancelled_close_ends_the_socket(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    ended = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        await reader.read()  # never answers the CLOSE; returns when the socket is gone
        ended.set()

    conn = await connect(await raw_server(script))
    closing = asyncio.ensure_future(conn.close(seconds(5)))  # the server never answers
    await asyncio.sleep(0.05)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await asyncio.wait_for(ended.wait(), seconds(1))


async def test_a_cancel_racing_the_end_of_a_connection_stops_the_session(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    connections = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await accept(reader, writer, b"")
        await read_client_frame(reader)
        writer.write(frame(b'{"trnm":"LOGIN","return_code":0,"return_msg":""}'))
        await asyncio.sleep(seconds(0.05))
        # One segment: a message, during whose handling the cancel is issued, then CLOSE.
        writer.write(frame(b'{"trnm":"NOTE"}') + frame(struct.pack("!H", 1001), opcode=0x8))
        await reader.read()

    fast = Backoff(initial=0.01, maximum=0.02, rng=random.Random(0))
    rt = RealtimeSession(_Tokens(), url=await raw_server(script), backoff=fast)
    handle = rt._on_message

    def cancel_the_supervisor_soon(raw: bytes) -> None:
        if raw == b'{"trnm":"NOTE"}':
            # Two loop turns later: while the connection's end is being reported.
            loop = asyncio.get_running_loop()
            loop.call_soon(lambda: loop.call_soon(supervisor.cancel))
        handle(raw)

    rt._on_message = cancel_the_supervisor_soon  # type: ignore[method-assign]
    await rt.start()
    assert rt._task is not None
    supervisor: asyncio.Task[None] = rt._task
    await asyncio.sleep(seconds(0.4))
    assert supervisor.done()  # before the fix it kept reconnecting
    assert connections == 1
    await rt.aclose()


async def test_aclose_during_a_closing_handshake_leaves_no_socket_or_task(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    ended = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer, b"")
        await read_client_frame(reader)  # LOGIN, never answered
        await reader.read()  # until the client's socket is gone
        ended.set()

    rt = RealtimeSession(_Tokens(), url=await raw_server(never_answers), login_timeout=0.05)
    await rt.start()
    # The LOGIN times out; the session then waits for the server to answer its CLOSE.
    await asyncio.sleep(seconds(0.1) + 0.05)
    await rt.aclose()
    await asyncio.wait_for(ended.wait(), seconds(1))  # the socket is closed, not left open
    others = [t for t in asyncio.all_tasks() if "WsConnection" in repr(t.get_coro())]
    assert others == []


async def test_the_upgrade_request_names_the_client_and_offers_no_extension(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    requests: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        requests.append(request)
        writer.write(switching_protocols(request))
        await reader.read()

    conn = await connect(await raw_server(script))
    await conn.close(seconds(1))
    request = requests[0].lower()
    assert request.startswith(b"get /api/dostk/websocket http/1.1\r\n")
    assert b"\r\nuser-agent: python/" in request
    assert b"sec-websocket-extensions" not in request  # frames never carry RSV bits


# --- wss:// ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSEcho:
    port: int
    ca: trustme.CA
    """The test authority that issued the server's certificate, for IP 127.0.0.1 only."""

    def trusting(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture
async def tls_echo() -> AsyncIterator[TLSEcho]:
    # Made at test time, so no private key is kept in the repository.
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        yield TLSEcho(server.sockets[0].getsockname()[1], ca)


async def test_wss_connects_when_the_certificate_is_trusted(tls_echo: TLSEcho) -> None:
    conn = await open_connection(
        f"wss://127.0.0.1:{tls_echo.port}/",
        open_timeout=seconds(2),
        max_size=1 << 20,
        logger=log,
        ssl_context=tls_echo.trusting(),
    )
    conn.send_text(b'{"trnm":"PING"}')
    assert await collect(conn, 1) == [b'{"trnm":"PING"}']
    await conn.close(seconds(1))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["untrusted", "wrong-name"])
async def test_wss_checks_the_certificate_and_the_host_name(tls_echo: TLSEcho, host: str) -> None:
    # The default context does not trust the test authority; a trusting one still refuses
    # the certificate for a name it was not issued to.
    context = None if host == "127.0.0.1" else tls_echo.trusting()
    with pytest.raises(ssl.SSLCertVerificationError):
        await open_connection(
            f"wss://{host}:{tls_echo.port}/",
            open_timeout=seconds(2),
            max_size=1 << 20,
            logger=log,
            ssl_context=context,
        )
