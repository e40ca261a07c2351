"""TradingSession: orders that come back as live trades, kept true by the account's realtime
events (00 fills, 04 balance) and by REST snapshots after every gap.

One session owns one realtime session subscribed to 00 and 04 (sharing the client's token),
one task that applies its events to the :class:`~kiwoom_async.trading.book.TradeBook`, and
at most one task reading a snapshot (ka10075, ka10076, kt00018). Closing it ends all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from ..api.order import Exchange, OrderAPI, StockTradeType
from ..errors import APIError, ConnectionClosedError, KiwoomError, OrderStatusUnknownError
from ..ledger import OrderAck, trade_date
from ..models.lifecycle import AccountFrameLost, Resubscribed
from ..models.realtime import Balance, OrderFill
from ..realtime import RealtimeSession
from ..rest import RestSession
from ._persist import TradeStore
from ._rerun import Rerun
from ._snapshot import CumulativeSource, balance_of, order_event, read_snapshot
from .book import BookStats, TradeBook, TradeUpdate
from .model import Leg, OrderSpec, Position, Side, TradeState
from .trade import Trade, TradeNotOpenError, TradingClosedError, TradingError

__all__ = ["TradingSession"]

log = logging.getLogger("kiwoom_async.trading")

ACCOUNT_TYPES: Final = ("00", "04")
_SUBSCRIBE_RETRY: Final = 0.1
"""Seconds between REG attempts while the first connection is not up yet."""
_SYNC_RETRIES: Final = (0.5, 1.0, 2.0)
"""Seconds before each new try of a snapshot whose REST reads failed."""


class TradingSession:
    """Live trades for one account. Open it with ``async with kw.trading() as trading``.

    ``state_path`` keeps trades and fills in a file (beside the order ledger's, one per
    account) so a restart picks them up and reconciles them with the server;
    ``save_interval`` is how often, at most, the file is rewritten while trades change.
    ``fill_cumulative`` says where a fill event's running total is read
    (:data:`~kiwoom_async.trading._snapshot.CumulativeSource`; the fact base leaves it open).
    """

    def __init__(
        self,
        order: OrderAPI,
        rest: RestSession,
        realtime: RealtimeSession,
        *,
        grp_no: str = "9999",
        state_path: str | os.PathLike[str] | None = None,
        save_interval: float = 1.0,
        start_timeout: float = 30.0,
        fill_cumulative: CumulativeSource = "911",
    ) -> None:
        self._order = order
        self._rest = rest
        self.realtime = realtime
        self.grp_no = grp_no
        self.book = TradeBook()
        self._store = TradeStore(state_path) if state_path is not None else None
        self.save_interval = save_interval
        self.start_timeout = start_timeout
        self.fill_cumulative: CumulativeSource = fill_cumulative
        self._handles: dict[str, Trade] = {}
        self._listeners: list[asyncio.Queue[TradeUpdate | None]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._snapshots = Rerun(self._sync_once)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._saved_at = 0.0
        self._dirty = False
        self._closed = False
        self.syncs = 0
        """Snapshots applied (the first one on start included)."""
        self.bad_events = 0
        """Account events that could not be applied (logged; a snapshot was read instead)."""
        self.error: BaseException | None = None
        """What ended the event stream, if it ended by itself."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<TradingSession {state} trades={len(self.book.trades)}>"

    @property
    def stats(self) -> BookStats:
        return self.book.stats

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> TradingSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Restore saved trades, subscribe to 00/04, read the first snapshot, then follow
        the events. Returns once the first snapshot is applied."""
        if self._consumer is not None:
            return
        if self._store is not None:
            saved = await asyncio.to_thread(self._store.load)
            if saved is not None:
                for trade in saved.trades:
                    trade.requests = 0
                self.book.restore(saved.trades, saved.positions)
                for trade in saved.trades:
                    self._handle(trade)
                    key = trade.order.idempotency_key
                    if not trade.legs and not trade.status.done and key is not None:
                        # Sent by the last process, its answer never recorded: look it up.
                        self.book.inflight += 1
                        self._spawn(self._find_lost(trade, key))
        try:
            await self.realtime.start()
            await self._subscribe()
            self._consumer = asyncio.get_running_loop().create_task(self._consume())
            await self.reconcile()
        except BaseException:
            await self.aclose()
            raise

    async def _subscribe(self) -> None:
        """Register 00/04, through the reconnects of a slow start, for ``start_timeout``."""
        try:
            async with asyncio.timeout(self.start_timeout):
                while True:
                    try:
                        await self.realtime.subscribe([], list(ACCOUNT_TYPES), grp_no=self.grp_no)
                        return
                    except ConnectionClosedError:
                        await asyncio.sleep(_SUBSCRIBE_RETRY)
        except TimeoutError:
            raise TradingError(
                f"the account events (00, 04) were not registered within {self.start_timeout} s"
            ) from None

    async def aclose(self) -> None:
        """Stop following events, save the trades (with ``state_path``), close the realtime
        session. Idempotent; leaves nothing running. Trades keep their last state."""
        if self._closed:
            return
        self._closed = True
        await self._snapshots.close(TradingClosedError("the trading session closed"))
        tasks = [t for t in (self._consumer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.realtime.aclose()
        self._dispatch()
        await self._save(force=True)
        for handle in self._handles.values():
            handle._close()  # pyright: ignore[reportPrivateUsage]
        for queue in self._listeners:
            queue.put_nowait(None)

    # --- views --------------------------------------------------------------------------

    def trades(self) -> list[Trade]:
        """Every trade, ours and external, oldest first."""
        return [self._handle(state) for state in self.book.trades.values()]

    def open_trades(self) -> list[Trade]:
        """Trades not yet filled, cancelled or rejected."""
        return [t for t in self.trades() if not t.status.done]

    def trade(self, ord_no: str) -> Trade | None:
        """The trade one of whose order numbers is ``ord_no``."""
        state = self.book.trade_of(ord_no)
        return self._handle(state) if state is not None else None

    def trade_by_id(self, trade_id: str) -> Trade | None:
        """The trade an update names (``TradeUpdate.trade_id``)."""
        state = self.book.trades.get(trade_id)
        return self._handle(state) if state is not None else None

    def positions(self) -> dict[str, Position]:
        """Holdings by stock code: from 04 events, set right by kt00018 at every snapshot."""
        return dict(self.book.positions)

    async def updates(self) -> AsyncIterator[TradeUpdate]:
        """Every change to every trade, in the order applied, until the session closes."""
        if self._closed:
            return
        queue: asyncio.Queue[TradeUpdate | None] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while (update := await queue.get()) is not None:
                yield update
        finally:
            self._listeners.remove(queue)

    # --- orders -------------------------------------------------------------------------

    async def buy(
        self,
        stk_cd: str,
        *,
        qty: int,
        price: int | None,
        trde_tp: StockTradeType,
        dmst_stex_tp: Exchange = "KRX",
        cond_price: int | None = None,
        idempotency_key: str | None = None,
    ) -> Trade:
        """Place a buy (kt10000, checked as :meth:`OrderAPI.buy` checks it) and return its
        live trade. Refused by the server: the trade is ``rejected``. Answer lost: the trade
        stays ``pending`` while the order is looked up. Refused before sending (bad input,
        real orders not allowed): the error is raised and no trade exists."""
        return await self._new(
            "buy",
            stk_cd,
            qty,
            price,
            trde_tp,
            dmst_stex_tp,
            idempotency_key,
            lambda: self._order.buy(
                stk_cd,
                qty=qty,
                price=price,
                trde_tp=trde_tp,
                dmst_stex_tp=dmst_stex_tp,
                cond_price=cond_price,
                idempotency_key=idempotency_key,
            ),
        )

    async def sell(
        self,
        stk_cd: str,
        *,
        qty: int,
        price: int | None,
        trde_tp: StockTradeType,
        dmst_stex_tp: Exchange = "KRX",
        cond_price: int | None = None,
        idempotency_key: str | None = None,
    ) -> Trade:
        """Place a sell (kt10001); as :meth:`buy`."""
        return await self._new(
            "sell",
            stk_cd,
            qty,
            price,
            trde_tp,
            dmst_stex_tp,
            idempotency_key,
            lambda: self._order.sell(
                stk_cd,
                qty=qty,
                price=price,
                trde_tp=trde_tp,
                dmst_stex_tp=dmst_stex_tp,
                cond_price=cond_price,
                idempotency_key=idempotency_key,
            ),
        )

    async def modify(
        self,
        trade: Trade,
        *,
        price: int,
        qty: int = 0,
        cond_price: int | None = None,
        idempotency_key: str | None = None,
    ) -> Trade:
        """Move ``qty`` shares (0: all that is left) of the trade's working order to
        ``price`` (kt10002). The new order number joins the trade's chain. A server refusal
        is raised (the trade is unchanged); :class:`TradeNotOpenError` if nothing works."""
        state = trade.state
        working = self._working_leg(state, "modify")
        requested = qty

        async def send() -> OrderAck:
            return await self._order.modify(
                working,
                state.order.stk_cd,
                qty=qty,
                price=price,
                cond_price=cond_price,
                dmst_stex_tp=_exchange(state),
                idempotency_key=idempotency_key,
            )

        ack = await self._amend(state, send)
        if ack is not None:
            moved = _answer_qty(ack, "mdfy_qty") or requested or self._left(working)
            self.book.add_child(state, working, ack.ord_no, "modify", moved, price, "order")
            self._after_change()
        return trade

    async def cancel(
        self, trade: Trade, *, qty: int = 0, idempotency_key: str | None = None
    ) -> Trade:
        """Cancel ``qty`` shares of the trade's newest working order, or with ``qty`` 0 all
        that is left of every working order of the chain (a partial modify leaves two), each
        by its own kt10003 whose number joins the chain. With several, the key of the n-th
        after the first is ``idempotency_key#n``. As :meth:`modify` otherwise."""
        state = trade.state
        newest = self._working_leg(state, "cancel")
        legs = [newest] if qty else [leg.ord_no for leg in _working_legs(state)]
        refused: list[APIError] = []
        for number, working in enumerate(legs):
            key = idempotency_key
            if key is not None and number:
                key = f"{key}#{number}"
            try:
                await self._cancel_leg(state, working, qty, key)
            except APIError as exc:
                refused.append(exc)  # this leg filled meanwhile: nothing left to cancel
        if refused and len(refused) == len(legs):
            raise refused[0]
        return trade

    async def _cancel_leg(
        self, state: TradeState, working: str, qty: int, idempotency_key: str | None
    ) -> None:
        async def send() -> OrderAck:
            return await self._order.cancel(
                working,
                state.order.stk_cd,
                qty=qty,
                dmst_stex_tp=_exchange(state),
                idempotency_key=idempotency_key,
            )

        ack = await self._amend(state, send)
        if ack is not None:
            cancelled = _answer_qty(ack, "cncl_qty") or qty or self._left(working)
            self.book.add_child(state, working, ack.ord_no, "cancel", cancelled, 0, "order")
            self._after_change()

    async def reconcile(self) -> None:
        """Read ka10075, ka10076 and kt00018 now and apply them (a read already running is
        followed by a new one, so what happened before this call is covered)."""
        self._check_open()
        await self._snapshots.run()

    # --- placing ------------------------------------------------------------------------

    async def _new(
        self,
        side: Side,
        stk_cd: str,
        qty: int,
        price: int | None,
        trde_tp: str,
        exchange: str,
        key: str | None,
        send: Callable[[], Awaitable[OrderAck]],
    ) -> Trade:
        self._check_open()
        spec = OrderSpec(
            stk_cd=stk_cd,
            side=side,
            qty=qty,
            price=price,
            trde_tp=trde_tp,
            dmst_stex_tp=exchange,
            idempotency_key=key,
        )
        book = self.book
        state = book.open_trade(spec, trade_date(time.time()))
        try:
            ack = await send()
        except OrderStatusUnknownError as lost:
            book.note(state, f"answer lost ({lost.cause}); looking the order up")
            self._spawn(self._find_lost(state, lost))
            return self._settled(state, inflight=True)
        except APIError as refused:
            # The server answered: nothing was placed.
            book.reject(state, str(refused))
            return self._settled(state)
        except BaseException:
            # Refused before sending, or not sent: no trade. (Cancelled mid-send, the order
            # may exist: its events then show it as an external trade.)
            book.trades.pop(state.id, None)
            book.settle_inflight()
            self._after_change()
            raise
        if ack.replayed:
            first = book.trade_of(ack.ord_no)
            if first is not None and first is not state:
                book.trades.pop(state.id, None)
                book.settle_inflight()
                self._after_change()
                return self._handle(first)
        book.bind(state, ack.ord_no)
        return self._settled(state)

    def _settled(self, state: TradeState, *, inflight: bool = False) -> Trade:
        handle = self._handle(state)
        if not inflight:
            self.book.settle_inflight()
        self._after_change()
        return handle

    async def _find_lost(self, state: TradeState, target: OrderStatusUnknownError | str) -> None:
        """An order whose answer was lost: found, it joins its trade; provably absent, the
        trade is rejected; otherwise it stays pending (see ``reason``)."""
        try:
            found = await self._order.reconcile(target)
        except KiwoomError as exc:
            self.book.note(state, f"answer lost; looking it up failed: {exc}")
        else:
            # An identical order of another trade of ours is not this one.
            free = [c for c in found.candidates if self.book.claimable(c)]
            if len(free) == 1:
                self.book.bind(state, free[0], "rest")
            elif found.complete and not free:
                self.book.reject(state, "answer lost, and the server lists no such order", "rest")
            else:
                self.book.note(state, f"answer lost; candidates {free}: not deciding")
        finally:
            self.book.settle_inflight()
            self._after_change()

    def _working_leg(self, state: TradeState, what: str) -> str:
        self._check_open()
        working = state.current_ord_no
        if working is None:
            raise TradeNotOpenError(
                f"cannot {what} trade {state.ord_no or state.id}: nothing of it works "
                f"(status {state.status.value}); nothing was sent"
            )
        return working

    def _left(self, ord_no: str) -> int:
        found = self.book.leg(ord_no)
        return found[1].remaining if found is not None else 0

    async def _amend(
        self, state: TradeState, send: Callable[[], Awaitable[OrderAck]]
    ) -> OrderAck | None:
        state.requests += 1
        try:
            return await send()
        except OrderStatusUnknownError as lost:
            # A snapshot finds it: a modify is listed with its original's number, and a
            # cancelled order is missing from the open orders.
            self.book.note(state, f"answer of a modify/cancel lost ({lost.cause})")
            self._request_sync()
            return None
        except APIError:
            # Refused (nothing left to change, most often): what this trade shows may be
            # behind the server, so read what the server holds.
            self._request_sync()
            raise
        finally:
            state.requests -= 1
            self.book.refresh(state, "order", "request answered")
            self._after_change()

    # --- events -------------------------------------------------------------------------

    async def _consume(self) -> None:
        book = self.book
        try:
            async for event in self.realtime:
                try:
                    if isinstance(event, OrderFill):
                        if book.apply_event(order_event(event, self.fill_cumulative)):
                            self._request_sync()
                    elif isinstance(event, Balance):
                        book.apply_balance(*balance_of(event))
                    elif isinstance(event, Resubscribed | AccountFrameLost):
                        self._request_sync()
                except Exception:
                    # Whatever an event holds must not end the session: a snapshot reads
                    # what it would have said.
                    self.bad_events += 1
                    log.exception("trading: an account event could not be applied: %r", event)
                    self._request_sync()
                if book.updates:
                    self._after_change()
        except KiwoomError as exc:
            self.error = exc
            log.error("trading: the realtime session ended: %s", exc)

    def _handle(self, state: TradeState) -> Trade:
        handle = self._handles.get(state.id)
        if handle is None:
            handle = self._handles[state.id] = Trade(state)
        return handle

    def _after_change(self) -> None:
        self._dispatch()
        if (
            self._store is not None
            and self._dirty
            and time.monotonic() - self._saved_at >= self.save_interval
        ):
            self._spawn(self._save())

    def _dispatch(self) -> None:
        updates, self.book.updates = self.book.updates, []
        if not updates:
            return
        self._dirty = True
        handles = self._handles
        for update in updates:
            handle = handles.get(update.trade_id)
            if handle is None:
                state = self.book.trades.get(update.trade_id)
                if state is None:
                    continue
                handle = self._handle(state)
            handle._push(update)  # pyright: ignore[reportPrivateUsage]
            for queue in self._listeners:
                queue.put_nowait(update)

    async def _save(self, *, force: bool = False) -> None:
        store = self._store
        if store is None or not (self._dirty or force):
            return
        self._saved_at = time.monotonic()
        self._dirty = False
        data = store.encode(list(self.book.trades.values()), dict(self.book.positions))
        try:
            await asyncio.to_thread(store.save, data)
        except OSError as exc:
            self._dirty = True
            log.error("trading: saving trades to %s failed: %s", store.path, exc)

    # --- snapshots ----------------------------------------------------------------------

    def _request_sync(self) -> None:
        self._snapshots.request()

    async def _sync_once(self) -> KiwoomError | None:
        error: KiwoomError | None = None
        for delay in (0.0, *_SYNC_RETRIES):
            if delay:
                await asyncio.sleep(delay)
            book = self.book
            working = book.known_working()
            balance_seq = book.balance_seq
            try:
                snapshot = await read_snapshot(self._rest)
            except KiwoomError as exc:
                error = exc
                log.warning("trading: reading the account's orders failed: %s", exc)
                continue
            book.apply_snapshot(snapshot, working, balance_seq)
            self.syncs += 1
            self._after_change()
            return None
        return error

    # --- plumbing -----------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_open(self) -> None:
        if self._closed:
            raise TradingClosedError("the trading session is closed")
        if self._consumer is None:
            raise TradingClosedError("the trading session is not started: use `async with`")


def _working_legs(state: TradeState) -> list[Leg]:
    """The legs still working, newest first."""
    return [leg for leg in reversed(state.legs) if leg.working and leg.remaining > 0]


def _answer_qty(ack: OrderAck, field: str) -> int:
    raw = ack.raw.get(field)
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdigit() else 0


def _exchange(state: TradeState) -> Exchange:
    exchange = state.order.dmst_stex_tp
    if exchange == "NXT":
        return "NXT"
    return "SOR" if exchange == "SOR" else "KRX"
