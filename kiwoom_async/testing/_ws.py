"""The realtime side of the simulator: a Kiwoom-compatible WebSocket at ``/api/dostk/websocket``.

Every connection owns one writer task fed by an unbounded queue. Everything that wants to talk
to a client (frame handlers, tick and PING loops, the order listener that REST handlers call
synchronously) only enqueues, so nothing blocks and frame order stays the order of events.
Closing is a queue entry too: the SYSTEM frame that explains a close always reaches the client
before the close itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from ._config import SimConfig
from ._market import kst_now
from ._orders import OrderRecord
from ._state import SimState
from ._ws_frames import (
    CONDITIONS,
    REAL_NAMES,
    balance_values,
    book_values,
    condition_push_values,
    condition_row,
    order_values,
    real_frame,
    tick_values,
)

__all__ = ["WS_PATH", "WsStats", "attach_ws", "ws_stats"]

WS_PATH = "/api/dostk/websocket"

_IDLE_POLL = 0.05
"""How often a loop whose knob is switched off looks again (every knob is live)."""
_CLOSE_TIMEOUT = 2.0
"""How long a close waits for the client's close frame before dropping the transport."""
_TICK_BACKLOG = 5_000
"""Ticks are skipped while this many frames wait for a slow reader, as a real feed would."""
_BLAST_YIELD_EVERY = 512
_CNSR_PAGE = 2
"""Rows per CNSRREQ search_type 0 page; small, so that paging is exercised."""
_MAX_REALTIME_CONDITIONS = 10
_MAX_ITEMS_PER_GROUP = 100
_ACCOUNT_TYPES = frozenset({"00", "04"})
_MARKET_TYPES = ("0B", "0D")
_PING = {"trnm": "PING"}


@dataclass(slots=True)
class WsStats:
    """What the WebSocket side saw and did: ``state.ws`` once :func:`attach_ws` ran (typed
    access: :func:`ws_stats`)."""

    connections: int = 0
    """WebSocket upgrades accepted."""
    logins: int = 0
    """Successful LOGINs."""
    login_failures: int = 0
    regs: int = 0
    """REG frames acknowledged with return_code 0."""
    reg_refusals: int = 0
    """REG frames answered with return_code 1: unknown types, too many items, or a type in
    ``SimConfig.reg_refuse_types``."""
    removes: int = 0
    pings_sent: int = 0
    ping_echoes: int = 0
    frames_sent: int = 0
    """Every text frame sent, acknowledgements and PINGs included."""
    real_frames_sent: int = 0
    malformed_sent: int = 0
    blast_frames_sent: int = 0
    order_frames_sent: int = 0
    """REAL 00 frames pushed for order events."""
    balance_frames_sent: int = 0
    """REAL 04 frames pushed after fills."""
    condition_pushes: int = 0
    """REAL 02 frames pushed for realtime condition searches."""
    disconnects_by_reason: Counter[str] = field(default_factory=Counter)  # pyright: ignore[reportUnknownVariableType]
    """Closed connections by reason: client, login_refused, no_login (R10004), replaced
    (R10001), ping_timeout (R10002), system_close (``system_close_after_login``), drop_every,
    drop_after_frames, shutdown."""
    received: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # pyright: ignore[reportUnknownVariableType]
    """Every frame a client sent: (connection id, trnm, frame). Unparseable text is kept as
    ``{"raw": text}`` with trnm ``""``."""
    registrations: dict[int, dict[str, set[tuple[str, str]]]] = field(default_factory=dict)  # pyright: ignore[reportUnknownVariableType]
    """Live view of the open connections' REGs: connection id -> grp_no -> {(type, item)}."""
    open_connections: int = 0


@dataclass(slots=True)
class _Close:
    reason: str
    frames: tuple[str, ...] = ()
    code: int = WSCloseCode.OK


@dataclass(slots=True)
class _Blast:
    frames: tuple[str, ...]
    count: int


_Outgoing = tuple[str, bool] | _Close | _Blast
"""A text frame (and whether it is a REAL frame, which faults may spoil), a close, or a blast."""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _dumps(frame: Mapping[str, Any]) -> str:
    return _encode(frame).decode()


def _system(code: str) -> str:
    message = _SYSTEM_MESSAGES.get(code, _SYSTEM_FALLBACK)
    return _dumps({"trnm": "SYSTEM", "code": code, "message": message})


def _as_list(value: object) -> list[str]:
    """REG item/type may be a list (official samples) or one string (spec table)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in cast("list[object]", value)]
    return []


class _Conn:
    def __init__(self, conn_id: int, ws: web.WebSocketResponse) -> None:
        self.id = conn_id
        self.ws = ws
        self.appkey: str | None = None
        self.groups: dict[str, set[tuple[str, str]]] = {}
        self.queue: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writer: asyncio.Task[None] | None = None
        self.handler: asyncio.Task[Any] | None = None
        self.condition_tasks: dict[str, asyncio.Task[None]] = {}
        self.condition_listed = False
        self.frames_sent = 0
        self.pings_outstanding = 0
        self.close_reason: str | None = None
        self.connected_at = time.monotonic()
        self.done = asyncio.Event()

    @property
    def logged_in(self) -> bool:
        return self.appkey is not None

    def registered(self, type_code: str) -> bool:
        return any(t == type_code for regs in self.groups.values() for t, _ in regs)

    def market_subscriptions(self) -> list[tuple[str, str]]:
        """(type, item) for 0B/0D over all groups, each once, in a stable order."""
        seen: dict[tuple[str, str], None] = {}
        for grp in sorted(self.groups):
            for pair in sorted(self.groups[grp]):
                if pair[0] in _MARKET_TYPES and pair[1]:
                    seen[pair] = None
        return list(seen)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def send(self, frame: Mapping[str, Any] | str, *, real: bool = False) -> None:
        if self.close_reason is not None:
            return
        text = frame if isinstance(frame, str) else _dumps(frame)
        self.queue.put_nowait((text, real))

    def close(self, reason: str, *frames: str, code: int = WSCloseCode.OK) -> None:
        """Ask the writer to send ``frames`` and close; the first reason given wins."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        self.queue.put_nowait(_Close(reason, frames, code))


class _WsServer:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self.stats = WsStats()
        self.conns: dict[int, _Conn] = {}
        self.rng = random.Random(f"ws:{state.config.seed}")
        self._next_id = 0
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def config(self) -> SimConfig:
        return self.state.config

    # --- lifecycle ---

    async def on_startup(self, app: web.Application) -> None:
        self._unsubscribe = self.state.add_order_listener(self.on_order)
        # Resting orders trade over time, so fills reach the 00/04 pushes (and gaps) unasked.
        self.state.spawn(self.state.desk.run_fill_clock())

    async def on_shutdown(self, app: web.Application) -> None:
        conns = list(self.conns.values())
        for conn in conns:
            conn.close("shutdown", code=WSCloseCode.GOING_AWAY)
        if conns:
            waiters = [asyncio.ensure_future(c.done.wait()) for c in conns]
            _, pending = await asyncio.wait(waiters, timeout=_CLOSE_TIMEOUT + 1)
            for waiter in pending:
                waiter.cancel()
        for conn in conns:
            if not conn.done.is_set() and conn.handler is not None:
                conn.handler.cancel()

    async def on_cleanup(self, app: web.Application) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # --- one connection ---

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=_CLOSE_TIMEOUT, compress=False, autoping=True)
        await ws.prepare(request)
        self._next_id += 1
        conn = _Conn(self._next_id, ws)
        conn.handler = asyncio.current_task()
        self.conns[conn.id] = conn
        self.stats.connections += 1
        self.stats.open_connections += 1
        self.stats.registrations[conn.id] = conn.groups
        conn.writer = asyncio.get_running_loop().create_task(self._writer(conn))
        conn.spawn(self._dropper(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self.on_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.on_text(conn, msg.data.decode("utf-8", "replace"))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            await self._finish(conn)
        return ws

    async def _finish(self, conn: _Conn) -> None:
        self.conns.pop(conn.id, None)
        self.stats.registrations.pop(conn.id, None)
        self.stats.open_connections -= 1
        closing = conn.close_reason is not None
        reason = conn.close_reason or "client"
        conn.close_reason = reason
        self.stats.disconnects_by_reason[reason] += 1
        tasks = [*conn.tasks, *conn.condition_tasks.values()]
        for task in tasks:
            task.cancel()
        writer = conn.writer
        if closing and writer is not None and not writer.done():
            # A writer with a close queued gets to send it and finish the handshake, so the
            # client sees the SYSTEM frame and a clean close code, not a dropped transport.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), _CLOSE_TIMEOUT)
        if writer is not None:
            writer.cancel()
            tasks.append(writer)
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await conn.ws.close()
        conn.done.set()

    async def _writer(self, conn: _Conn) -> None:
        ws = conn.ws
        while True:
            item = await conn.queue.get()
            if isinstance(item, _Close):
                for text in item.frames:
                    if not await self._send(conn, text, real=False, may_drop=False):
                        break
                await ws.close(code=item.code)
                return
            if isinstance(item, _Blast):
                for i in range(item.count):
                    if conn.close_reason is not None:
                        break  # a requested close (shutdown, R10001, ...) cuts a blast short
                    if not await self._send(conn, item.frames[i % len(item.frames)], real=True):
                        return
                    self.stats.blast_frames_sent += 1
                    if i % _BLAST_YIELD_EVERY == _BLAST_YIELD_EVERY - 1:
                        # Other connections and the REST side get the loop now and then.
                        await asyncio.sleep(0)
                continue
            text, real = item
            if not await self._send(conn, text, real=real):
                return

    async def _send(self, conn: _Conn, text: str, *, real: bool, may_drop: bool = True) -> bool:
        """Send one frame; False once the connection is gone or a frame limit closed it."""
        if conn.ws.closed:
            return False
        config = self.config
        if real and config.ws_malformed_rate > 0 and self.rng.random() < config.ws_malformed_rate:
            text = text[: max(1, len(text) // 2)]
            self.stats.malformed_sent += 1
        try:
            await conn.ws.send_str(text)
        except ConnectionError:
            return False
        conn.frames_sent += 1
        self.stats.frames_sent += 1
        if real:
            self.stats.real_frames_sent += 1
        limit = config.drop_after_frames
        if may_drop and limit is not None and conn.frames_sent >= limit:
            if conn.close_reason is None:
                conn.close_reason = "drop_after_frames"
            await conn.ws.close()
            return False
        return True

    # --- background loops (one set per connection, cancelled in _finish) ---

    async def _dropper(self, conn: _Conn) -> None:
        while True:
            after = self.config.drop_every
            if after is None or after <= 0:
                await asyncio.sleep(_IDLE_POLL)
                continue
            left = conn.connected_at + after - time.monotonic()
            if left <= 0:
                conn.close("drop_every")
                return
            await asyncio.sleep(min(left, _IDLE_POLL))

    async def _pinger(self, conn: _Conn) -> None:
        while True:
            interval = self.config.ping_interval
            if interval <= 0:
                await asyncio.sleep(_IDLE_POLL)
                continue
            await asyncio.sleep(interval)
            if conn.pings_outstanding >= self.config.ping_misses_allowed:
                conn.close("ping_timeout", _system("R10002"))
                return
            self._ping(conn)

    def _ping(self, conn: _Conn) -> None:
        conn.pings_outstanding += 1
        self.stats.pings_sent += 1
        conn.send(_PING)

    async def _ticker(self, conn: _Conn) -> None:
        market = self.state.market
        while True:
            interval = self.config.tick_interval
            if interval <= 0:
                await asyncio.sleep(_IDLE_POLL)
                continue
            await asyncio.sleep(interval)
            if conn.queue.qsize() > _TICK_BACKLOG:
                continue
            for type_code, item in conn.market_subscriptions():
                if type_code == "0B":
                    values = tick_values(market.tick(item), buy_initiated=self.rng.random() < 0.5)
                else:
                    values = book_values(market.book(item))
                conn.send(real_frame(type_code, item, values), real=True)

    async def _condition_pusher(self, conn: _Conn, seq: str, codes: tuple[str, ...]) -> None:
        inside = set(codes)
        pool = sorted({*codes, "005930", "000660", "035720", "068270"})
        while True:
            interval = self.config.condition_push_interval
            if interval <= 0:
                await asyncio.sleep(_IDLE_POLL)
                continue
            await asyncio.sleep(interval)
            code = self.rng.choice(pool)
            entered = code not in inside
            if entered:
                inside.add(code)
            else:
                inside.discard(code)
            values = condition_push_values(seq, code, entered, self._now())
            self.stats.condition_pushes += 1
            conn.send(real_frame("02", code, values), real=True)

    @staticmethod
    def _now() -> str:
        return kst_now().strftime("%H%M%S")

    # --- frames from the client ---

    def on_text(self, conn: _Conn, text: str) -> None:
        try:
            frame = _decode(text)
        except msgspec.DecodeError:
            frame = None
        if not isinstance(frame, dict):
            self.stats.received.append((conn.id, "", {"raw": text}))
            if not conn.logged_in:
                self._no_login(conn)
            return
        frame = cast("dict[str, Any]", frame)
        trnm = str(frame.get("trnm", ""))
        self.stats.received.append((conn.id, trnm, frame))
        if trnm == "LOGIN":
            self._login(conn, frame)
        elif not conn.logged_in:
            self._no_login(conn)
        elif trnm == "PING":
            self._ping_echo(conn, frame)
        elif trnm == "REG":
            self._reg(conn, frame, remove=False)
        elif trnm == "REMOVE":
            self._reg(conn, frame, remove=True)
        elif trnm == "CNSRLST":
            self._cnsr_list(conn)
        elif trnm == "CNSRREQ":
            self._cnsr_req(conn, frame)
        elif trnm == "CNSRCLR":
            self._cnsr_clear(conn, frame)
        # Other frames (a SYSTEM echoed back, unknown trnm) get no answer, as in prod.

    def _no_login(self, conn: _Conn) -> None:
        conn.close("no_login", _system("R10004"))

    def _login(self, conn: _Conn, frame: Mapping[str, Any]) -> None:
        config = self.config
        if config.system_close_after_login:
            self._close_after_login(conn)
            return
        token = frame.get("token")
        appkey = self.state.appkey_for_token(token) if isinstance(token, str) else None
        refuse = config.login_refuse_code
        if refuse is None and appkey is None:
            refuse = 8005
        if refuse is not None:
            self._refuse_login(conn, refuse)
            return
        assert appkey is not None
        first = not conn.logged_in
        if config.single_session_per_key:
            for other in list(self.conns.values()):
                if other is not conn and other.appkey == appkey:
                    other.close("replaced", _system("R10001"))
        if config.system_frames_around_login:
            conn.send(_system("R00000"))
        conn.appkey = appkey
        self.stats.logins += 1
        conn.send({"trnm": "LOGIN", "return_code": 0, "return_msg": ""})
        if config.system_frames_around_login:
            conn.send(_system("R00001"))
            self._ping(conn)
        if first:
            conn.spawn(self._pinger(conn))
            conn.spawn(self._ticker(conn))

    def _refuse_login(self, conn: _Conn, code: int) -> None:
        self.stats.login_failures += 1
        detail = _login_error_text(code)
        if self.config.login_refuse_style == "top":
            reply = {
                "trnm": "LOGIN",
                "return_code": code,
                "return_msg": f"[CODE={code}, MESSAGE={detail}]",
            }
        else:
            reply = {
                "trnm": "LOGIN",
                "return_code": 1,
                "return_msg": f"[ERROR] 인증에 실패했습니다. CODE={code}, MSG={detail}",
            }
        conn.close("login_refused", _dumps(reply))

    def _close_after_login(self, conn: _Conn) -> None:
        """No LOGIN answer at all: the notice prod sends ahead of the answer (when that knob
        is on), then the closing SYSTEM frame and a close."""
        frames = [_system(self.config.system_close_code)]
        if self.config.system_frames_around_login:
            frames.insert(0, _system("R00000"))
        conn.close("system_close", *frames)

    def _ping_echo(self, conn: _Conn, frame: Mapping[str, Any]) -> None:
        if dict(frame) == _PING:
            self.stats.ping_echoes += 1
            conn.pings_outstanding = 0

    def _reg(self, conn: _Conn, frame: Mapping[str, Any], *, remove: bool) -> None:
        trnm = "REMOVE" if remove else "REG"
        grp_no = str(frame.get("grp_no", "1") or "1")
        refresh = str(frame.get("refresh", "1") or "1")
        data = frame.get("data")
        pairs: list[tuple[str, str]] = []
        bad: list[str] = []
        for item in cast("list[object]", data) if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            entry = cast("dict[str, Any]", item)
            items = _as_list(entry.get("item")) or [""]
            types = _as_list(entry.get("type"))
            for type_code in types:
                if type_code not in REAL_NAMES:
                    bad.append(type_code)
                    continue
                # Account types are pushed regardless of item; keep one entry for them.
                pairs.extend(
                    (type_code, "" if type_code in _ACCOUNT_TYPES else item) for item in items
                )
        if bad or not pairs:
            what = ",".join(bad) if bad else "data"
            self._reg_refused(conn, trnm, f"실시간 항목이 올바르지 않습니다. type={what}")
            return
        refused = [] if remove else self._refused_types(pairs)
        if refused:
            # The whole frame is refused, its other types included: nothing of it registers.
            self._reg_refused(conn, trnm, f"{self._reg_refusal_text()} type={','.join(refused)}")
            return
        if remove:
            current = conn.groups.get(grp_no, set())
            current.difference_update(pairs)
            if not current:
                conn.groups.pop(grp_no, None)
            self.stats.removes += 1
            conn.send({"trnm": trnm, "return_code": 0, "return_msg": ""})
            return
        updated = set(pairs) if refresh == "0" else conn.groups.get(grp_no, set()) | set(pairs)
        if len({item for _, item in updated}) > _MAX_ITEMS_PER_GROUP:
            self._reg_refused(conn, trnm, "등록 종목수 초과")
            return
        conn.groups[grp_no] = updated
        self.stats.regs += 1
        conn.send({"trnm": trnm, "return_code": 0, "return_msg": ""})
        count = self.config.blast_frames
        if count > 0:
            frames = self._blast_frames(conn)
            if frames:
                conn.queue.put_nowait(_Blast(frames, count))

    def _reg_refused(self, conn: _Conn, trnm: str, message: str) -> None:
        if trnm == "REG":
            self.stats.reg_refusals += 1
        conn.send({"trnm": trnm, "return_code": 1, "return_msg": message})

    def _refused_types(self, pairs: list[tuple[str, str]]) -> list[str]:
        """The types of ``pairs`` that ``reg_refuse_types`` refuses, each once, in order."""
        refuse = self.config.reg_refuse_types
        if not refuse:
            return []
        types = list(dict.fromkeys(t for t, _ in pairs))
        return types if "*" in refuse else [t for t in types if t in refuse]

    def _reg_refusal_text(self) -> str:
        # The fact base has no verified wording for a refused REG; the official table's
        # sentence for what the mock server does not serve is the nearest real one.
        if self.config.mock:
            return "모의투자에서 지원하지 않는 API 입니다."
        return "실시간 등록에 실패했습니다."

    def _blast_frames(self, conn: _Conn) -> tuple[str, ...]:
        """A few pre-encoded frames, 0B and 0D alternating, reused for the whole blast."""
        market = self.state.market
        subs = conn.market_subscriptions()
        items = sorted({item for _, item in subs})
        types = sorted({t for t, _ in subs})
        frames: list[str] = []
        for _ in range(2):
            for item in items:
                for type_code in types:
                    if (type_code, item) not in subs:
                        continue
                    if type_code == "0B":
                        values = tick_values(
                            market.tick(item), buy_initiated=self.rng.random() < 0.5
                        )
                    else:
                        values = book_values(market.book(item))
                    frames.append(_dumps(real_frame(type_code, item, values)))
        return tuple(frames)

    # --- condition search ---

    def _cnsr_list(self, conn: _Conn) -> None:
        conn.condition_listed = True
        conn.send(
            {
                "trnm": "CNSRLST",
                "return_code": 0,
                "return_msg": "",
                "data": [[seq, name] for seq, name, _ in CONDITIONS],
            }
        )

    def _condition(self, seq: str) -> tuple[str, str, tuple[str, ...]] | None:
        for entry in CONDITIONS:
            if entry[0] == seq:
                return entry
        return None

    def _cnsr_req(self, conn: _Conn, frame: Mapping[str, Any]) -> None:
        seq = str(frame.get("seq", "")).strip()
        search_type = str(frame.get("search_type", "0")).strip()
        condition = self._condition(seq)
        message = None
        if not conn.condition_listed and self.config.condition_list_required:
            message = "조건검색 목록조회(CNSRLST)를 먼저 요청하십시오"
        elif condition is None:
            message = f"조건검색식이 존재하지 않습니다. seq={seq}"
        if message is not None or condition is None:
            conn.send({"trnm": "CNSRREQ", "seq": seq, "return_code": 1, "return_msg": message})
            return
        codes = condition[2]
        if search_type == "1":
            active = seq in conn.condition_tasks
            if not active and len(conn.condition_tasks) >= _MAX_REALTIME_CONDITIONS:
                conn.send(
                    {
                        "trnm": "CNSRREQ",
                        "seq": seq,
                        "return_code": 1,
                        "return_msg": "실시간 조건검색 요청 가능 개수를 초과하였습니다",
                    }
                )
                return
            conn.send(
                {
                    "trnm": "CNSRREQ",
                    "seq": seq,
                    "return_code": 0,
                    "return_msg": "",
                    "data": [{"jmcode": f"A{code}"} for code in codes],
                }
            )
            if active:
                conn.condition_tasks.pop(seq).cancel()
            task = asyncio.get_running_loop().create_task(self._condition_pusher(conn, seq, codes))
            conn.condition_tasks[seq] = task
            return
        try:
            start = int(str(frame.get("next_key", "") or "0").strip() or "0")
        except ValueError:
            start = 0
        if str(frame.get("cont_yn", "N")).strip() != "Y":
            start = 0
        page = codes[start : start + _CNSR_PAGE]
        more = start + _CNSR_PAGE < len(codes)
        market = self.state.market
        conn.send(
            {
                "trnm": "CNSRREQ",
                "seq": seq,
                "cont_yn": "Y" if more else "N",
                "next_key": str(start + _CNSR_PAGE) if more else "",
                "return_code": 0,
                "return_msg": "",
                "data": [
                    condition_row(code, market.name(code), market.snapshot(code)) for code in page
                ],
            }
        )

    def _cnsr_clear(self, conn: _Conn, frame: Mapping[str, Any]) -> None:
        seq = str(frame.get("seq", "")).strip()
        if self._condition(seq) is None:
            reply = {
                "trnm": "CNSRCLR",
                "seq": seq,
                "return_code": 1,
                "return_msg": f"조건검색식이 존재하지 않습니다. seq={seq}",
            }
        else:
            task = conn.condition_tasks.pop(seq, None)
            if task is not None:
                task.cancel()
            reply = {"trnm": "CNSRCLR", "seq": seq, "return_code": 0, "return_msg": ""}
        conn.send(reply)

    # --- account events (called synchronously from REST handlers) ---

    def on_order(self, order: OrderRecord, event: str) -> None:
        targets = [
            c
            for c in self.conns.values()
            if c.appkey == order.appkey and c.close_reason is None and c.registered("00")
        ]
        balance_targets = [
            c
            for c in self.conns.values()
            if c.appkey == order.appkey and c.close_reason is None and c.registered("04")
        ]
        if not targets and not (event == "filled" and balance_targets):
            return
        market = self.state.market
        tick = market.snapshot(order.stk_cd)
        account = self.state.account_no(order.appkey)
        # The desk numbers every execution, heard or not, as the exchange does.
        fill_no = order.last_fill_no if event == "filled" else ""
        if targets:
            values = order_values(order, event, account=account, fill_no=fill_no, tick=tick)
            text = _dumps(real_frame("00", order.stk_cd, values))
            for conn in targets:
                self.stats.order_frames_sent += 1
                conn.send(text, real=True)
        if event == "filled" and balance_targets:
            position = self.state.positions(order.appkey).get(order.stk_cd)
            values = balance_values(position, order, account=account, tick=tick)
            text = _dumps(real_frame("04", order.stk_cd, values))
            for conn in balance_targets:
                self.stats.balance_frames_sent += 1
                conn.send(text, real=True)


_LOGIN_ERRORS = {
    8001: "App Key와 Secret Key 검증에 실패했습니다",
    8005: "Token이 유효하지 않습니다",
    8010: "Token을 발급받은 IP와 서비스를 요청한 IP가 동일하지 않습니다",
    8030: "투자구분(실전/모의)이 달라서 Appkey를 사용할수가 없습니다",
    8031: "투자구분(실전/모의)이 달라서 Token를 사용할수가 없습니다",
    8040: "단말기 인증에 실패했습니다",
    8050: "지정단말기 인증에 실패했습니다",
    8103: "토큰 인증 또는 단말기인증에 실패했습니다",
}
_LOGIN_FALLBACK = "인증에 실패했습니다"


def _login_error_text(code: int) -> str:
    """The official table's wording for ``code``. Six-digit codes (805004) are not in the
    table; they read as a table code and a two-digit sub-code (8050, 04), so they take that
    code's wording."""
    text = _LOGIN_ERRORS.get(code)
    if text is None and 100_000 <= code <= 999_999:
        text = _LOGIN_ERRORS.get(code // 100)
    return text or _LOGIN_FALLBACK


_SYSTEM_MESSAGES = {
    "R00000": "실시간 시세 서버 접속을 요청합니다",
    "R00001": "실시간 시세 서버에 접속되었습니다",
    "R10001": "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다",
    "R10002": "사용자 프로그램으로부터 Heartbeat(연결유지) 메시지가 오지않아서 접속을 종료합니다",
    "R10004": "접속허용요청이 들어오지 않았습니다",
}
_SYSTEM_FALLBACK = "접속을 종료합니다"

_WS_SERVER = web.AppKey("kiwoom_sim_ws", _WsServer)


def attach_ws(app: web.Application, state: SimState) -> None:
    """Serve the realtime WebSocket on ``app`` and expose its :class:`WsStats` as ``state.ws``."""
    server = _WsServer(state)
    app[_WS_SERVER] = server
    state.ws = server.stats
    app.router.add_get(WS_PATH, server.handle)
    app.on_startup.append(server.on_startup)
    app.on_shutdown.append(server.on_shutdown)
    app.on_cleanup.append(server.on_cleanup)


def ws_stats(state: SimState) -> WsStats:
    """The :class:`WsStats` that :func:`attach_ws` put on ``state`` as ``state.ws``."""
    stats = getattr(state, "ws", None)
    if not isinstance(stats, WsStats):
        raise LookupError("no WebSocket side is attached to this state")
    return stats
