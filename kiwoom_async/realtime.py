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

The connection's lifecycle is :class:`~kiwoom_async._realtime_link.ConnectionLoop`; this
module is what arrives on it (frames decoded, events and acks dispatched) and the requests.
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

from ._env import ws_url
from ._queue import EventQueue, OverflowPolicy, QueueStats
from ._realtime_link import ConnectionLoop, TokenSuspicion, group_entries
from ._realtime_link import Entry as Entry
from ._realtime_link import Event as Event
from ._realtime_link import wire_log as wire_log
from ._wsconn import WsClosedError, WsConnection
from .auth import TokenManager
from .errors import (
    ConnectionClosedError,
    KiwoomValidationError,
    SessionTakenOverError,
    SubscriptionError,
)
from .models import frames
from .models.frames import (
    CnsrClrFrame,
    CnsrLstFrame,
    CnsrReqFrame,
    ControlFrame,
    FrameDecodeError,
    PingFrame,
    RegFrame,
    RemoveFrame,
    SalvagedEvents,
    SystemFrame,
    decode_events,
)
from .models.lifecycle import (
    AccountFrameLost,
    SystemMessage,
)
from .models.realtime import EVENT_TYPES, RealtimeEvent
from .retry import Backoff

__all__ = ["RealtimeSession", "RealtimeStats"]

# An account type code as a JSON string: "00" (fills) or "04" (balance).
_ACCOUNT_TYPE = re.compile(rb'"0[04]"')

log = logging.getLogger("kiwoom_async.realtime")

AckFrame = RegFrame | RemoveFrame | CnsrLstFrame | CnsrReqFrame | CnsrClrFrame
_ACK_FRAMES = (RegFrame, RemoveFrame, CnsrLstFrame, CnsrReqFrame, CnsrClrFrame)

REGISTRABLE_TYPES = frozenset(EVENT_TYPES) - {"02"}
"""Types REG accepts; ``02`` (condition hits) comes through :meth:`condition_subscribe`."""


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


class _Closed(Exception):
    """Ends the event stream after the user closed the session."""


class RealtimeSession(ConnectionLoop):
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
        self._suspicion = TokenSuspicion()

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
        return {grp: group_entries(pairs) for grp, pairs in self._groups.items()}

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
    if not all(isinstance(i, str) for i in item_list):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KiwoomValidationError("items must be strings such as '005930'")
    if not isinstance(grp_no, str) or not grp_no or len(grp_no) > 4:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise KiwoomValidationError("grp_no is a string of 1 to 4 characters")
    return item_list, type_list


def _pending_key(trnm: str, seq: str | None) -> str:
    return trnm if seq is None else f"{trnm}:{seq.strip()}"
