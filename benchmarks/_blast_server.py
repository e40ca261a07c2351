"""A minimal Kiwoom-shaped server for the realtime benchmarks, on raw asyncio.

It issues and revokes tokens over HTTP and answers LOGIN and REG on the WebSocket. After each
REG it sends ``--frames`` REAL frames of the types registered (0B and 0D alternating when both
are): as fast as the socket drains in
``blast`` mode, or at ``--rate`` frames/s in ``rate`` mode with the send time stamped into every
frame. Frames are encoded before the blast; writing them is nearly free, so the client's
speed, not this server's, is what the figures show.

Usage: ``python benchmarks/_blast_server.py --port 0 --frames 50000 [--mode rate --rate 2000]``;
it prints ``base_url ...`` and ``ws_url ...`` once listening and runs until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import signal
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _frames import STAMP_FIDS, book_frame, tick_frame

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_decode = msgspec.json.decode
_BATCH = 64
"""Frames per transport write in blast mode."""
_MAKERS: dict[str, Callable[..., bytes]] = {"0B": tick_frame, "0D": book_frame}


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


class Protocol(asyncio.Protocol):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.websocket = False
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=1 << 20)

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        if self.task is not None:
            self.task.cancel()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.websocket:
            self._ws_frames()
        else:
            self._http()

    # --- HTTP: token issue/revoke, and the WebSocket upgrade ---

    def _http(self) -> None:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            path = head[0].split(" ")[1]
            assert self.transport is not None
            if headers.get("upgrade", "").lower() == "websocket":
                accept = base64.b64encode(
                    hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest()
                )
                self.transport.write(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                self.websocket = True
                self._ws_frames()
                return
            if path.endswith("/token"):
                body = (
                    b'{"expires_dt":"20991231235959","token_type":"bearer",'
                    b'"token":"bench-token-0123456789","return_code":0,"return_msg":""}'
                )
            else:
                body = b'{"return_code":0,"return_msg":""}'
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )

    # --- WebSocket ---

    def _ws_frames(self) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            masked = buf[1] & 0x80
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            mask = b""
            if masked:
                mask = bytes(buf[pos : pos + 4])
                pos += 4
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if masked:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self._on_ws(opcode, payload)

    def _on_ws(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 0x8:  # close: answer and hang up
            self.transport.write(ws_frame(payload[:2], 0x8))
            self.transport.close()
            return
        if opcode == 0x9:
            self.transport.write(ws_frame(payload, 0xA))
            return
        if opcode != 0x1:
            return
        message = _decode(payload)
        trnm = message.get("trnm")
        if trnm == "LOGIN":
            self.send(b'{"trnm":"LOGIN","return_code":0,"return_msg":"","sor_yn":"Y"}')
        elif trnm == "REG":
            self.send(b'{"trnm":"REG","return_code":0,"return_msg":""}')
            if self.task is None or self.task.done():
                types = [t for entry in message.get("data", []) for t in entry.get("type", [])]
                makers = [_MAKERS[t] for t in ("0B", "0D") if t in types] or list(_MAKERS.values())
                run = self._blast if self.args.mode == "blast" else self._paced
                self.task = asyncio.get_running_loop().create_task(run(self.args.frames, makers))
        elif trnm == "REMOVE":
            self.send(b'{"trnm":"REMOVE","return_code":0,"return_msg":""}')

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(ws_frame(payload))

    async def _blast(self, count: int, makers: list[Callable[..., bytes]]) -> None:
        frames = [b"".join(ws_frame(make(seed=s)) for make in makers) for s in range(4)]
        per_chunk = _BATCH // len(makers)
        chunks = [b"".join(frames[(i + j) % 4] for j in range(per_chunk)) for i in range(4)]
        single = [ws_frame(make()) for make in makers]
        sent = 0
        transport = self.transport
        assert transport is not None
        i = 0
        while sent < count and not transport.is_closing():
            if count - sent >= _BATCH:
                transport.write(chunks[i % 4])
                sent += _BATCH
            else:
                transport.write(single[sent % len(single)])
                sent += 1
            i += 1
            if not self.can_write.is_set():
                await self.can_write.wait()

    async def _paced(self, count: int, makers: list[Callable[..., bytes]]) -> None:
        """``count`` frames at ``--rate``/s, each carrying its send time."""
        templates = []
        for raw in (make() for make in makers):
            frame = _decode(raw)
            entry = frame["data"][0]
            entry["values"][STAMP_FIDS[entry["type"]]] = "\x00"
            text = msgspec.json.encode(frame).replace(b"%", b"%%")
            templates.append(text.replace(b"\\u0000", b"%d"))
        rate = self.args.rate
        transport = self.transport
        assert transport is not None
        start = time.monotonic()
        sent = 0
        while sent < count and not transport.is_closing():
            due = min(count, int((time.monotonic() - start) * rate) + 1)
            while sent < due:
                payload = templates[sent % len(templates)] % time.monotonic_ns()
                transport.write(ws_frame(payload))
                sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Protocol(args), "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"base_url http://127.0.0.1:{port}", flush=True)
    print(f"ws_url   ws://127.0.0.1:{port}/api/dostk/websocket", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--frames", type=int, default=50_000, help="REAL frames sent after each REG")
    p.add_argument("--mode", choices=("blast", "rate"), default="blast")
    p.add_argument("--rate", type=float, default=2_000.0, help="frames/s in rate mode")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
