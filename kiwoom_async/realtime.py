"""RealtimeSession: LOGIN -> REG/REMOVE over one WebSocket, kept alive across drops.

The lifecycle, per connection:

1. connect; send LOGIN with a token fresh from the TokenManager; wait for the LOGIN answer,
   echoing PINGs and skipping SYSTEM frames the server sends around it;
2. re-register every group of the desired subscription state (and realtime condition
   searches), then let waiting ``subscribe`` calls through: nothing overtakes LOGIN;
3. read: PINGs are echoed at once by the reader; REAL items become typed events in the
   bounded queue; acks resolve the request waiting for them.

When the connection drops, every request waiting for an ack fails at once, a
``Disconnected`` and a ``Reconnecting`` event enter the stream, and the session reconnects
with exponential backoff and jitter. The backoff resets only after a connection stayed
ready for ``stability_window`` seconds, so a server that accepts and drops at once is not
hammered. A LOGIN refused for a token reason invalidates the token and retries once with a
new one; any other refusal, and SYSTEM R10001 (another session took over the app key), end
the session with an error instead of a reconnect war.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import InvalidHandshake

from . import _codes
from ._env import ws_url
from ._queue import EventQueue, OverflowPolicy, QueueStats
from ._secret import Secret
from ._wsconn import WsClosedError, WsConnection, open_connection
from .auth import TokenManager
from .errors import (
    ConnectionClosedError,
    KiwoomError,
    KiwoomValidationError,
    LoginRefusedError,
    RealtimeError,
    SessionTakenOverError,
    SubscriptionError,
    TokenBudgetError,
    TransportError,
)
from .models import frames
from .models.frames import (
    CnsrClrFrame,
    CnsrLstFrame,
    CnsrReqFrame,
    ControlFrame,
    FrameDecodeError,
    LoginFrame,
    PingFrame,
    RegFrame,
    RemoveFrame,
    SalvagedEvents,
    SystemFrame,
    decode_events,
)
from .models.lifecycle import (
    AccountFrameLost,
    Connected,
    Disconnected,
    LifecycleEvent,
    Reconnecting,
    Resubscribed,
    SystemMessage,
)
from .models.realtime import EVENT_TYPES, RealtimeEvent
from .retry import Backoff

__all__ = ["RealtimeSession", "RealtimeStats"]

# An account type code as a JSON string: "00" (fills) or "04" (balance).
_ACCOUNT_TYPE = re.compile(rb'"0[04]"')

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
AckFrame = RegFrame | RemoveFrame | CnsrLstFrame | CnsrReqFrame | CnsrClrFrame
_ACK_FRAMES = (RegFrame, RemoveFrame, CnsrLstFrame, CnsrReqFrame, CnsrClrFrame)

REGISTRABLE_TYPES = frozenset(EVENT_TYPES) - {"02"}
"""Types REG accepts; ``02`` (condition hits) comes through :meth:`condition_subscribe`."""

_LOGIN_FRAME_CAP = 100
"""Frames tolerated before the LOGIN answer (SYSTEM, PING) before giving up on it."""

_CLOSE_TIMEOUT = 2.0
"""Seconds the closing handshake may take before the socket is simply dropped."""


@dataclass(slots=True)
class RealtimeStats:
    connections: int = 0
    """Successful LOGINs."""
    reconnects: int = 0
    frames: int = 0
    events: int = 0
    malformed: int = 0
    """Frames or items that could not be decoded: logged and skipped."""
    unknown: int = 0
    pings: int = 0
    resubscribe_failures: int = 0
    account_frames_lost: int = 0
    """Unreadable frames that looked like account events (also AccountFrameLost events)."""
    queue: QueueStats = field(default_factory=QueueStats)


Entry = tuple[tuple[str, ...], tuple[str, ...]]
"""(items, types) of one REG data entry."""


class _Closed(Exception):
    """Ends the event stream after the user closed the session."""


class _TokenRefused(Exception):
    def __init__(self, error: LoginRefusedError) -> None:
        self.error = error


class _TokenSuspicion:
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


class RealtimeSession:
    """A self-healing realtime connection. Use as ``async with`` and ``async for``.

    ``overflow`` picks what happens to market data when the consumer falls ``queue_size``
    events behind: "drop_oldest", "drop_newest", "latest" (keep the newest event per
    (type, item)) or "raise". Account events (``00``, ``04``) and lifecycle events are never
    dropped; if ``account_queue_size`` of them pile up the session fails loudly.
    """

    def __init__(
        self,
        token_manager: TokenManager,
        *,
        url: str | None = None,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = "drop_oldest",
        account_queue_size: int = 100_000,
        backoff: Backoff | None = None,
        stability_window: float = 30.0,
        max_attempts: int | None = None,
        login_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        open_timeout: float = 10.0,
        ws_ping_interval: float | None = None,
        max_frame_size: int = 2**22,
    ) -> None:
        self.tokens = token_manager
        self.url = ws_url(token_manager.env, url)
        self.backoff = backoff or Backoff()
        self.stability_window = stability_window
        self.max_attempts = max_attempts
        self.login_timeout = login_timeout
        self.ack_timeout = ack_timeout
        self.open_timeout = open_timeout
        # Kiwoom keeps the connection alive with its own PING frames, which we echo;
        # protocol-level pings are off by default, as in the official client.
        self.ws_ping_interval = ws_ping_interval
        self.max_frame_size = max_frame_size
        self._queue: EventQueue[Event] = EventQueue(
            queue_size, overflow, priority_maxsize=account_queue_size
        )
        self.stats = RealtimeStats(queue=self._queue.stats)
        # grp_no -> ordered set of (item, type): the desired state replayed on reconnect
        self._groups: dict[str, dict[tuple[str, str], None]] = {}
        self._conditions: dict[str, str] = {}  # seq -> stex_tp of realtime condition searches
        self._pending: dict[str, deque[asyncio.Future[Any]]] = {}
        self._ws: WsConnection | None = None
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._fatal: BaseException | None = None
        self._closing = False
        self._suspicion = _TokenSuspicion()

    def __repr__(self) -> str:
        state = "ready" if self.ready else "closed" if self._closing else "connecting"
        return f"<RealtimeSession url={self.url!r} {state} groups={sorted(self._groups)}>"

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> RealtimeSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start connecting in the background (``async with`` does this)."""
        if self._task is not None:
            return
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def aclose(self) -> None:
        """Stop the session: cancel the connection task, close the socket, end the stream.
        Idempotent; leaves nothing running."""
        self._closing = True
        if self._ready is not None:
            self._ready.set()  # wake requests waiting for a connection: they see the close
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue.fail(_Closed())

    @property
    def ready(self) -> bool:
        """Logged in and resubscribed."""
        return self._ready is not None and self._ready.is_set()

    @property
    def subscriptions(self) -> dict[str, list[Entry]]:
        """The desired state: grp_no -> [(items, types), ...], replayed on every reconnect."""
        return {grp: _entries(pairs) for grp, pairs in self._groups.items()}

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until logged in and resubscribed; raise the session's fatal error if it
        ended, or :class:`ConnectionClosedError` after ``timeout`` (default ``ack_timeout``)."""
        await self._ready_connection(self.ack_timeout if timeout is None else timeout)

    # --- events --------------------------------------------------------------------------

    def __aiter__(self) -> RealtimeSession:
        return self

    async def __anext__(self) -> Event:
        queue = self._queue
        try:
            # Most calls find an event waiting: no second coroutine for them.
            return queue.get_nowait()
        except LookupError:
            pass
        try:
            return await queue.get()
        except _Closed:
            raise StopAsyncIteration from None

    # --- subscriptions -------------------------------------------------------------------

    async def subscribe(
        self,
        items: Iterable[str],
        types: Iterable[str],
        *,
        grp_no: str = "1",
        refresh: bool = True,
    ) -> None:
        """Register ``types`` for ``items`` in group ``grp_no`` and wait for the ack.

        ``refresh=True`` keeps the group's earlier registrations; ``False`` replaces them.
        Account types (``00`` fills, ``04`` balance) take no item: pass ``[]`` or ``[""]``.
        The subscription joins the desired state only once acknowledged; on error (refusal,
        a drop before the ack) it did not, and the call can simply be repeated.
        """
        entry = _check_entry(items, types, grp_no)
        ws = await self._ready_connection(self.ack_timeout)
        await self._request(ws, "REG", frames.encode_reg(grp_no, entry[0], entry[1], refresh))
        pairs = self._groups.setdefault(grp_no, {})
        if not refresh:
            pairs.clear()
        pairs.update(dict.fromkeys((i, t) for i in entry[0] for t in entry[1]))

    async def unsubscribe(
        self, items: Iterable[str], types: Iterable[str], *, grp_no: str = "1"
    ) -> None:
        """Remove ``types`` for ``items`` from group ``grp_no`` and wait for the ack."""
        item_list, type_list = _check_entry(items, types, grp_no)
        ws = await self._ready_connection(self.ack_timeout)
        await self._request(ws, "REMOVE", frames.encode_remove(grp_no, item_list, type_list))
        pairs = self._groups.get(grp_no, {})
        for pair in [(i, t) for i in item_list for t in type_list]:
            pairs.pop(pair, None)
        if not pairs:
            self._groups.pop(grp_no, None)

    # --- condition search ----------------------------------------------------------------

    async def condition_list(self) -> list[tuple[str, str]]:
        """CNSRLST (ka10171): the saved conditions as (seq, name)."""
        ws = await self._ready_connection(self.ack_timeout)
        answer: CnsrLstFrame = await self._request(ws, "CNSRLST", frames.encode_cnsrlst())
        return answer.conditions

    async def condition_search(
        self, seq: str, *, stex_tp: str = "K", cont_yn: str = "N", next_key: str = ""
    ) -> CnsrReqFrame:
        """CNSRREQ search_type 0 (ka10172): one page of stocks matching condition ``seq``.
        The answer's ``cont_yn``/``next_key`` fetch the next page."""
        ws = await self._ready_connection(self.ack_timeout)
        frame = frames.encode_cnsrreq(seq, "0", stex_tp, cont_yn, next_key)
        answer: CnsrReqFrame = await self._request(ws, "CNSRREQ", frame, seq)
        return answer

    async def condition_subscribe(self, seq: str, *, stex_tp: str = "K") -> CnsrReqFrame:
        """CNSRREQ search_type 1 (ka10173): the current matches now, then type ``02``
        events as stocks enter or leave the condition; replayed after a reconnect."""
        ws = await self._ready_connection(self.ack_timeout)
        await self._request(ws, "CNSRLST", frames.encode_cnsrlst())
        frame = frames.encode_cnsrreq(seq, "1", stex_tp)
        answer: CnsrReqFrame = await self._request(ws, "CNSRREQ", frame, seq)
        self._conditions[seq] = stex_tp
        return answer

    async def condition_unsubscribe(self, seq: str) -> None:
        """CNSRCLR (ka10174): stop the realtime condition search ``seq``."""
        ws = await self._ready_connection(self.ack_timeout)
        await self._request(ws, "CNSRCLR", frames.encode_cnsrclr(seq), seq)
        self._conditions.pop(seq, None)

    # --- connection supervisor -----------------------------------------------------------

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
        except (OSError, TimeoutError, InvalidHandshake) as exc:
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
            frames_sent = [frames.encode_reg(grp_no, i, t, True) for i, t in _entries(pairs)]
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

    def _on_message(self, raw: bytes) -> None:
        """Every message of a logged-in connection, called by the connection as it reads
        them: nothing here waits, so PINGs are echoed at once and a slow consumer never
        holds up the socket (the bounded queue decides what happens to its backlog)."""
        stats = self.stats
        stats.frames += 1
        frame = self._decode(raw)
        if frame is None:
            return
        if isinstance(frame, list):
            if type(frame) is SalvagedEvents:
                stats.malformed += frame.skipped
                log.warning("REAL frame with %d malformed entries skipped", frame.skipped)
            stats.events += len(frame)
            queue = self._queue
            keyed = queue.policy == "latest"  # only that policy needs each event's key
            for event in frame:
                if event.is_account:
                    queue.put_priority(event)
                elif keyed:
                    queue.put_market(event, (event.type, event.item))
                else:
                    queue.put_market(event)
        elif isinstance(frame, PingFrame):
            ws = self._ws
            if ws is not None:
                # Closing already: the messages still arriving matter more than this echo.
                with contextlib.suppress(WsClosedError):
                    ws.send_text(raw)
                    stats.pings += 1
        elif isinstance(frame, SystemFrame):
            self._on_system(frame)
        elif isinstance(frame, _ACK_FRAMES):
            self._on_ack(frame)
        else:
            stats.unknown += 1

    def _decode(self, raw: bytes) -> list[RealtimeEvent] | ControlFrame | None:
        """One frame's content, or None when it cannot be read: counted, logged, skipped.

        Whatever a frame holds (bad JSON, nesting deep enough to exhaust the decoder's
        recursion, a shape nobody foresaw) is the server's fault and costs that frame only;
        only transport and protocol failures end a connection."""
        try:
            return decode_events(raw)
        except FrameDecodeError as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self.stats.malformed += 1
        log.warning("malformed frame skipped (%s, %d bytes)", reason[:200], len(raw))
        if _ACCOUNT_TYPE.search(raw):
            # Fills may be in it: the consumer must hear of the gap, not only the log.
            self.stats.account_frames_lost += 1
            self._queue.put_priority(AccountFrameLost(reason[:200]))  # in order with fills
        return None

    async def _keepalive(self, ws: WsConnection, interval: float) -> None:
        """Protocol-level pings (off by default): a missing PONG ends the connection."""
        while True:
            await asyncio.sleep(interval)
            try:
                await ws.ping(timeout=interval)
            except TimeoutError:
                ws.fail(1011, f"no PONG within {interval} s")
                return

    def _on_system(self, frame: SystemFrame) -> None:
        log.warning("SYSTEM %s: %s", frame.code, frame.message)
        self._queue.put_lifecycle(SystemMessage(frame.code, frame.message))
        if frame.code == "R10001":
            raise SessionTakenOverError(
                f"another connection with this app key took over ({frame.code}: {frame.message})"
            )

    def _on_ack(self, frame: AckFrame) -> None:
        waiting = None
        if isinstance(frame, CnsrReqFrame | CnsrClrFrame):
            waiting = self._pending.get(_pending_key(frame.trnm, frame.seq))
        if not waiting:
            waiting = self._pending.get(frame.trnm)
        if not waiting:
            self.stats.unknown += 1
            return
        future = waiting.popleft()
        if future.done():
            return
        if frame.ok:
            future.set_result(frame)
        else:
            future.set_exception(SubscriptionError(frame.trnm, frame.return_code, frame.return_msg))

    # --- requests ------------------------------------------------------------------------

    async def _ready_connection(self, timeout: float) -> WsConnection:
        if self._fatal is not None:
            raise self._fatal
        if self._task is None or self._ready is None:
            raise ConnectionClosedError("the session is not started: use `async with`")
        if self._closing:
            raise ConnectionClosedError("the session is closed")
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._ready.wait()
                    if self._fatal is not None:
                        raise self._fatal
                    if self._closing:
                        raise ConnectionClosedError("the session is closed")
                    ws = self._ws
                    if ws is not None:
                        return ws
        except TimeoutError:
            if self._fatal is not None:
                raise self._fatal from None
            raise ConnectionClosedError(f"not connected after {timeout} s") from None

    async def _request(
        self, ws: WsConnection, trnm: str, frame: bytes, seq: str | None = None
    ) -> Any:
        """Send ``frame`` and wait for its answer. Answers come in request order per ``trnm``
        (per condition ``seq`` for condition search, which the server may answer out of
        order). A request that gave up after sending keeps its place (cancelled), so a late
        answer is matched to it and not to the next request; one that never got sent leaves."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting = self._pending.setdefault(_pending_key(trnm, seq), deque())
        waiting.append(future)
        try:
            ws.send_text(frame)
        except WsClosedError as exc:
            with contextlib.suppress(ValueError):
                waiting.remove(future)
            raise ConnectionClosedError(f"connection closed before {trnm} was sent") from exc
        try:
            async with asyncio.timeout(self.ack_timeout):
                return await future
        except TimeoutError:
            raise ConnectionClosedError(f"no {trnm} answer within {self.ack_timeout} s") from None

    def _fail_pending(self, error: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(error)
                    # Retrieved here so a request nobody awaits any more logs nothing.
                    future.exception()

    def _fail(self, error: BaseException) -> None:
        log.error("realtime session ended: %s", error)
        self._fatal = error
        self._fail_pending(error)
        self._queue.fail(error)
        if self._ready is not None:
            self._ready.set()  # wake waiters so they see the error


def _check_entry(
    items: Iterable[str], types: Iterable[str], grp_no: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if isinstance(items, str) or isinstance(types, str):
        raise KiwoomValidationError("items and types are lists of codes, not one string")
    item_list = tuple(items) or ("",)
    type_list = tuple(types)
    if not type_list:
        raise KiwoomValidationError("give at least one realtime type")
    unknown = [t for t in type_list if t not in REGISTRABLE_TYPES]
    if unknown:
        raise KiwoomValidationError(
            f"unknown realtime type(s) {unknown}; known: {sorted(REGISTRABLE_TYPES)}"
        )
    if not all(isinstance(i, str) for i in item_list):
        raise KiwoomValidationError("items must be strings such as '005930'")
    if not isinstance(grp_no, str) or not grp_no or len(grp_no) > 4:
        raise KiwoomValidationError("grp_no is a string of 1 to 4 characters")
    return item_list, type_list


def _pending_key(trnm: str, seq: str | None) -> str:
    return trnm if seq is None else f"{trnm}:{seq.strip()}"


def _entries(pairs: Iterable[tuple[str, str]]) -> list[Entry]:
    """Fewest REG entries for a set of (item, type): items grouped by their set of types."""
    types_of: dict[str, list[str]] = {}
    for item, type_code in pairs:
        types_of.setdefault(item, []).append(type_code)
    items_by_types: dict[tuple[str, ...], list[str]] = {}
    for item, type_codes in types_of.items():
        items_by_types.setdefault(tuple(type_codes), []).append(item)
    return [(tuple(items), types) for types, items in items_by_types.items()]
