"""A scripted fault server: a real aiohttp server on 127.0.0.1 that answers each path from a
script and records every request it receives.

Each answer is a :class:`Reply` (status, JSON or raw body, headers), a fault (:class:`Drop`,
:class:`Truncate`, :class:`Hang`), or an async handler that looks at the request and returns
one of those. Scripted answers are used once each, in arrival order; an ``always`` answer
serves a path once its script has run out. A request with no answer left is recorded in
``unscripted`` and fails the test when the server closes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = [
    "Answer",
    "Drop",
    "Hang",
    "Received",
    "Reply",
    "ScriptedServer",
    "Truncate",
    "serve_in_thread",
    "unused_url",
]

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it. ``headers`` look up case-insensitively."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    arrived_at: float
    """The server loop's clock when the request's headers had arrived."""

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: ``json`` when given, else ``body`` as plain text."""

    status: int = 200
    json: Any = None
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if self.json is None:
            return web.Response(status=self.status, text=self.body, headers=self.headers)
        text = json.dumps(self.json, ensure_ascii=False)
        return web.Response(
            status=self.status, text=text, content_type="application/json", headers=self.headers
        )


@dataclass(frozen=True, slots=True)
class Drop:
    """Read the request, then close the connection without a byte of answer. ``reset`` closes
    with a TCP RST (the client sees ECONNRESET) instead of a FIN (a clean disconnect)."""

    reset: bool = False


@dataclass(frozen=True, slots=True)
class Truncate:
    """Send the status line, headers and part of a body announced longer, then close: the
    answer is cut mid-payload."""


@dataclass(frozen=True, slots=True)
class Hang:
    """Never answer: the client has to time out. The handler is cancelled when the client
    gives up, or released when the server closes."""


Fault = Reply | Drop | Truncate | Hang
Handler = Callable[[Received], Awaitable[Fault]]
Answer = Fault | Handler


class ScriptedServer:
    """``async with ScriptedServer() as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.unscripted: list[Received] = []
        self._scripts: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._always: dict[str, Answer] = {}
        self._arrival = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the server is not running")
        return f"http://{HOST}:{self._port}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with ``answers``, one each, in order."""
        self._scripts[path].extend(answers)

    def always(self, path: str, answer: Answer) -> None:
        """Answer every request to ``path`` with ``answer`` once its script has run out."""
        self._always[path] = answer

    def sent(self, path: str | None = None) -> list[Received]:
        """The requests received, on ``path`` only when given."""
        return [r for r in self.requests if path is None or r.path == path]

    async def wait_for(self, count: int, path: str | None = None) -> None:
        """Return once ``count`` requests (to ``path``, when given) have arrived."""
        while len(self.sent(path)) < count:
            await self._arrival.wait()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Handler cancellation makes a client that gives up visible to the handler; the short
        # shutdown bounds close() should a test leave a handler blocked.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def check(self) -> None:
        """Fail if a request arrived that the script had no answer for."""
        paths = [r.path for r in self.unscripted]
        assert not paths, f"requests with no scripted answer: {paths}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
        if exc is None:
            self.check()

    # --- serving ---

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived_at = asyncio.get_running_loop().time()
        received = Received(
            request.method, request.path, request.headers.copy(), await request.read(), arrived_at
        )
        self.requests.append(received)
        # Waking every waiter on one event and starting a fresh one needs no lock.
        self._arrival.set()
        self._arrival = asyncio.Event()
        answer = self._next_answer(received)
        fault = answer if isinstance(answer, Fault) else await answer(received)
        return await self._perform(fault, request)

    def _next_answer(self, received: Received) -> Answer:
        script = self._scripts[received.path]
        if script:
            return script.popleft()
        answer = self._always.get(received.path)
        if answer is None:
            self.unscripted.append(received)
            return Reply(599, body="no scripted answer")
        return answer

    async def _perform(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        if isinstance(fault, Reply):
            return fault.response()
        if isinstance(fault, Truncate):
            return await _truncated(request)
        if isinstance(fault, Hang):
            await self._closing.wait()
        _close_connection(request, reset=isinstance(fault, Drop) and fault.reset)
        return web.Response()  # the connection is gone: this never reaches the client


async def _truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = 64
    await response.prepare(request)
    await response.write(b'{"return_code":0,')
    _close_connection(request, reset=False)
    return response


def _close_connection(request: web.Request, *, reset: bool) -> None:
    transport = request.transport
    if transport is None:
        return
    if reset:
        # Zero linger turns the close into a RST: the peer's next read fails with ECONNRESET.
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def unused_url() -> str:
    """A URL on a local port where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}"


@contextmanager
def serve_in_thread(server: ScriptedServer) -> Iterator[ScriptedServer]:
    """Run ``server`` on an event loop of its own thread, for tests that make event loops of
    their own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result()
        try:
            yield server
        finally:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    server.check()
