"""The connection loop under RealtimeSession: connect, LOGIN, resubscribe, keep alive, and
reconnect with backoff when the connection drops.

:class:`ConnectionLoop` is the half of :class:`~kiwoom_async.RealtimeSession` that owns the
socket's lifecycle; the session (``realtime.py``) keeps the other half, what arrives on it:
decoding frames, dispatching events and acks, and the requests that wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import _codes
from ._queue import EventQueue
from ._secret import Secret
from ._wsconn import WsClosedError, WsConnection, open_connection
from .auth import TokenManager
from .errors import (
    ConnectionClosedError,
    KiwoomError,
    LoginRefusedError,
    RealtimeError,
    SubscriptionError,
    TokenBudgetError,
    TransportError,
)
from .models import frames
from .models.frames import ControlFrame, LoginFrame, PingFrame, SystemFrame
from .models.lifecycle import Connected, Disconnected, LifecycleEvent, Reconnecting, Resubscribed
from .models.realtime import RealtimeEvent
from .retry import Backoff

if TYPE_CHECKING:
    from .realtime import RealtimeStats

log = logging.getLogger("kiwoom_async.realtime")


class _RedactTokens(logging.Filter):
    """The wire log shows every frame at DEBUG, LOGIN included: mask the token in them."""

    _TOKEN = re.compile(r'("token"\s*:\s*")[^"\']*')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if '"token"' in message:
            record.msg, record.args = self._TOKEN.sub(r"\1***", message), ()
        return True


wire_log = logging.getLogger("kiwoom_async.realtime.wire")
"""Every frame sent and received, at DEBUG, with tokens masked."""
wire_log.addFilter(_RedactTokens())

Event = RealtimeEvent | LifecycleEvent

Entry = tuple[tuple[str, ...], tuple[str, ...]]
"""(items, types) of one REG data entry."""

_LOGIN_FRAME_CAP = 100
"""Frames tolerated before the LOGIN answer (SYSTEM, PING) before giving up on it."""

_CLOSE_TIMEOUT = 2.0
"""Seconds the closing handshake may take before the socket is simply dropped."""


class _TokenRefused(Exception):
    def __init__(self, error: LoginRefusedError) -> None:
        self.error = error


class TokenSuspicion:
    """Decides when a connection's failure points at the token; only then is a new one
    fetched, so a server that refuses or drops for other reasons never churns tokens.

    The evidence: a LOGIN refused for a token reason (8005...), or for no stated reason; or
    two connections in a row dropped before the LOGIN answer without a word from the server
    (some servers drop a dead token instead of refusing it). A server that said something
    first (a SYSTEM frame, a PING) before dropping was not silent about a token it disliked."""

    def __init__(self) -> None:
        self._silent_drops = 0
        self._heard = False

    def connecting(self) -> None:
        self._heard = False

    def heard_from_server(self) -> None:
        self._heard = True

    def logged_in(self) -> None:
        self._silent_drops = 0

    @staticmethod
    def blames_token(refusal: LoginRefusedError) -> bool:
        outcome = _codes.classify(200, refusal.return_code, refusal.detail_code)
        if outcome is _codes.Outcome.TOKEN:
            return True
        return refusal.detail_code is None and outcome is not _codes.Outcome.AUTH

    def dropped_before_login(self) -> bool:
        """Whether this drop, with the ones before it, is evidence against the token."""
        if self._heard:
            self._silent_drops = 0
            return False
        self._silent_drops += 1
        if self._silent_drops < 2:
            return False
        self._silent_drops = 0
        return True


class ConnectionLoop:
    """The connection's lifecycle, run by :meth:`_supervise` as the session's one task.

    The attributes and the message handlers below it are the session's
    (:class:`~kiwoom_async.RealtimeSession` sets and defines them)."""

    tokens: TokenManager
    url: str
    backoff: Backoff
    stability_window: float
    max_attempts: int | None
    login_timeout: float
    open_timeout: float
    ws_ping_interval: float | None
    max_frame_size: int
    stats: RealtimeStats
    _queue: EventQueue[Event]
    _groups: dict[str, dict[tuple[str, str], None]]
    _conditions: dict[str, str]
    _ws: WsConnection | None
    _ready: asyncio.Event | None
    _closing: bool
    _suspicion: TokenSuspicion

    def _on_message(self, raw: bytes) -> None:
        raise NotImplementedError

    def _decode(self, raw: bytes) -> list[RealtimeEvent] | ControlFrame | None:
        raise NotImplementedError

    def _on_system(self, frame: SystemFrame) -> None:
        raise NotImplementedError

    def _fail(self, error: BaseException) -> None:
        raise NotImplementedError

    def _fail_pending(self, error: BaseException) -> None:
        raise NotImplementedError

    async def _request(
        self, ws: WsConnection, trnm: str, frame: bytes, seq: str | None = None
    ) -> Any:
        raise NotImplementedError

    # --- the loop ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        relogin_used = False
        try:
            while True:
                try:
                    cause, stable = await self._connect_once()
                except _TokenRefused as refused:
                    if relogin_used:
                        raise refused.error from None
                    relogin_used = True  # one immediate LOGIN with a new token
                    continue
                if self._closing:
                    return  # aclose() ran while this connection was ending: no reconnect
                if stable is not None:
                    relogin_used = False
                if stable:
                    attempt = 0
                attempt += 1
                self.stats.reconnects += 1
                if self.max_attempts is not None and attempt > self.max_attempts:
                    self._fail(
                        ConnectionClosedError(
                            f"gave up after {self.max_attempts} reconnect attempts: {cause}"
                        )
                    )
                    return
                delay = self.backoff.delay(attempt)
                log.info("reconnecting in %.2f s (attempt %d): %s", delay, attempt, cause)
                self._queue.put_lifecycle(Reconnecting(attempt, delay, cause))
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except KiwoomError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug must end the stream loudly, not hang the consumer
            log.exception("realtime session failed")
            self._fail(RealtimeError(f"realtime session failed: {type(exc).__name__}: {exc}"))

    async def _connect_once(self) -> tuple[str, bool | None]:
        """One connection from open to drop.

        Returns (cause, stable): stable is None when LOGIN never succeeded, else whether
        the connection stayed ready for the stability window. A LOGIN refused for a token
        reason raises _TokenRefused after invalidating the token; fatal conditions raise.
        """
        assert self._ready is not None
        try:
            ws = await open_connection(
                self.url,
                open_timeout=self.open_timeout,
                max_size=self.max_frame_size,
                logger=wire_log,
            )
        except (OSError, TimeoutError) as exc:
            return f"connect failed: {type(exc).__name__}: {exc}", None
        ready_since: float | None = None
        cause = "connection closed"
        token: Secret | None = None
        suspicion = self._suspicion
        suspicion.connecting()
        try:
            # Wrapped so the token never shows in a traceback's locals.
            token = Secret(await self.tokens.token())
            try:
                await self._login(ws, token)
            except LoginRefusedError as exc:
                if not suspicion.blames_token(exc):
                    raise  # a stated reason a new token does not fix (8030...): final
                self.tokens.invalidate(token.reveal())
                log.info("LOGIN refused (%s); retrying once with a new token", exc.return_msg)
                raise _TokenRefused(exc) from None
            suspicion.logged_in()
            self.stats.connections += 1
            self._ws = ws
            ready_since = asyncio.get_running_loop().time()
            self._queue.put_lifecycle(Connected(self.stats.connections))
            ws.start_delivery(self._on_message)
            await self._while_open(ws)
        except WsClosedError as closed:
            cause = f"connection closed ({closed})"
        except (OSError, TimeoutError) as failed:
            cause = f"connection failed: {type(failed).__name__}"
        except (TransportError, TokenBudgetError) as failed:
            # No token just now (the REST host failed, or the issue budget is spent): retry
            # like a network fault, after the backoff.
            cause = f"no token: {failed}"
        finally:
            self._ws = None
            self._ready.clear()
            self._fail_pending(ConnectionClosedError(f"connection dropped: {cause}"))
            # Not shielded: cancelled while closing, the connection aborts its socket.
            with contextlib.suppress(Exception):
                await ws.close(_CLOSE_TIMEOUT)
        if ready_since is None:
            if token is not None and suspicion.dropped_before_login():
                self.tokens.invalidate(token.reveal())
                log.info("two connections dropped before the LOGIN answer; using a new token")
            return cause, None
        self._queue.put_lifecycle(Disconnected(cause))
        stable = asyncio.get_running_loop().time() - ready_since >= self.stability_window
        return cause, stable

    async def _while_open(self, ws: WsConnection) -> None:
        """Resubscribe (and keep alive) while the connection lasts; raise why it ended.

        The helpers are plain tasks rather than a TaskGroup: a TaskGroup reports a child's
        error ahead of its own cancellation, so aclose() could be lost when it raced the
        connection's end. A helper's unexpected error ends the connection with that error."""
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._resubscribe(ws))]
        if self.ws_ping_interval:
            helpers.append(loop.create_task(self._keepalive(ws, self.ws_ping_interval)))

        def end_connection_on_error(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                ws.fail(1011, "internal error", task.exception())

        for task in helpers:
            task.add_done_callback(end_connection_on_error)
        try:
            await ws.wait_closed()  # raises the cause, a fatal error of _on_message included
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _login(self, ws: WsConnection, token: Secret) -> None:
        ws.send_text(frames.encode_login(token.reveal()))
        async with asyncio.timeout(self.login_timeout):
            for _ in range(_LOGIN_FRAME_CAP):
                raw = await ws.recv()
                self._suspicion.heard_from_server()
                frame = self._decode(raw)
                if frame is None:
                    continue
                if isinstance(frame, LoginFrame):
                    if not frame.ok:
                        raise LoginRefusedError(
                            frame.return_code, frame.return_msg, frame.detail_code
                        )
                    return
                if isinstance(frame, PingFrame):
                    ws.send_text(raw)
                    self.stats.pings += 1
                elif isinstance(frame, SystemFrame):
                    self._on_system(frame)
        raise LoginRefusedError(-1, "no LOGIN answer among the first frames", None)

    async def _resubscribe(self, ws: WsConnection) -> None:
        """Replay the desired state. A group the server refuses (or never answers) is reported
        in ``Resubscribed.failed`` and logged; it does not end the session."""
        assert self._ready is not None
        restored: list[str] = []
        failed: list[str] = []
        for grp_no, pairs in list(self._groups.items()):
            frames_sent = [frames.encode_reg(grp_no, i, t, True) for i, t in group_entries(pairs)]
            ok = [await self._replay(ws, "REG", frame) for frame in frames_sent]
            (restored if all(ok) else failed).append(grp_no)
        if self._conditions and await self._replay(ws, "CNSRLST", frames.encode_cnsrlst()):
            for seq, stex_tp in list(self._conditions.items()):
                await self._replay(ws, "CNSRREQ", frames.encode_cnsrreq(seq, "1", stex_tp), seq)
        if restored or failed:
            self._queue.put_lifecycle(Resubscribed(tuple(restored), tuple(failed)))
        self._ready.set()

    async def _replay(
        self, ws: WsConnection, trnm: str, frame: bytes, seq: str | None = None
    ) -> bool:
        try:
            await self._request(ws, trnm, frame, seq)
        except (SubscriptionError, ConnectionClosedError) as exc:
            self.stats.resubscribe_failures += 1
            log.error("re-sending %s after reconnect failed: %s", trnm, exc)
            return False
        return True

    async def _keepalive(self, ws: WsConnection, interval: float) -> None:
        """Protocol-level pings (off by default): a missing PONG ends the connection."""
        while True:
            await asyncio.sleep(interval)
            try:
                await ws.ping(timeout=interval)
            except TimeoutError:
                ws.fail(1011, f"no PONG within {interval} s")
                return


def group_entries(pairs: Iterable[tuple[str, str]]) -> list[Entry]:
    """Fewest REG entries for a set of (item, type): items grouped by their set of types."""
    types_of: dict[str, list[str]] = {}
    for item, type_code in pairs:
        types_of.setdefault(item, []).append(type_code)
    items_by_types: dict[tuple[str, ...], list[str]] = {}
    for item, type_codes in types_of.items():
        items_by_types.setdefault(tuple(type_codes), []).append(item)
    return [(tuple(items), types) for types, items in items_by_types.items()]
