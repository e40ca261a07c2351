"""Order TRs (주문, /api/dostk/ordr) with the safety rules orders need.

Every order method, before anything is sent:

1. refuses ``env="real"`` unless the client was built with ``allow_real_orders=True``
   (:class:`~kiwoom_async.errors.RealOrderNotAllowedError`);
2. checks the fields the way the server does (:class:`~kiwoom_async.errors.InvalidOrderError`,
   :class:`~kiwoom_async.errors.InvalidStockCodeError`): a plain six-character stock code (the
   exchange is chosen by ``dmst_stex_tp``, not by a ``_NX``/``_AL`` suffix) or one of the two
   gold codes; a whole quantity above zero (modify/cancel: zero or more, 0 meaning "all that
   is left"); a known ``trde_tp``; no price for the price-less types (market 3/13/23,
   best-price 6/16/26, top-priority 7, after-hours closing price 61/81) and a positive price
   for every other type; a positive ``cond_price`` for stop-limit 28 and none otherwise;
   ``dmst_stex_tp`` KRX/NXT/SOR, KRX only on the mock server;
3. with an ``idempotency_key``, claims the key in the ledger (see :mod:`kiwoom_async.ledger`).

An order is sent at most once. If its answer is lost the call raises
:class:`~kiwoom_async.errors.OrderStatusUnknownError`; :meth:`OrderAPI.reconcile` looks it up.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, get_args

from .._generated.api.account import AccountAPI
from .._generated.models.order import (
    GoldSpotBuyOrderRequest,
    GoldSpotCancelOrderRequest,
    GoldSpotModifyOrderRequest,
    GoldSpotSellOrderRequest,
    StockBuyOrderRequest,
    StockCancelOrderRequest,
    StockModifyOrderRequest,
    StockSellOrderRequest,
)
from .._ledger_io import LedgerRunner
from ..errors import (
    InvalidOrderError,
    OrderStatusUnknownError,
)
from ..krx import InstrumentOf, check_order_ticks
from ..ledger import MemoryLedger, OrderAck, OrderLedger
from ..models._convert import TRRequest, TRResponse
from ..rest import RestSession
from ._base import TRGroup
from ._order_forms import (
    PRICELESS_TRADE_TYPES,
    Exchange,
    StockOrderForms,
    StockTradeType,
    order_number,
    positive_price,
    quantity,
)
from ._placement import OrderPlacement
from .reconcile import GOLD_CODES, Reconciler, Reconciliation

__all__ = [
    "GOLD_CODES",
    "PRICELESS_TRADE_TYPES",
    "Exchange",
    "GoldCode",
    "GoldTradeType",
    "OrderAPI",
    "Reconciliation",
    "StockTradeType",
]


_T = TypeVar("_T")
_P = TypeVar("_P", bound=TRResponse)

GoldTradeType = Literal["00", "10", "20"]
"""kt50000/kt50001 ``trde_tp``: 00 limit, 10 limit IOC, 20 limit FOK."""
GoldCode = Literal["M04020000", "M04020100"]
GOLD_TRADE_TYPES: Final = frozenset(get_args(GoldTradeType))


class OrderAPI(TRGroup, StockOrderForms):
    """Order TRs (주문, /api/dostk/ordr). Reach it as ``kw.order``.

    ``allow_real_orders`` must be True before any order is sent with ``env="real"``; it sets
    the REST session's switch (True or False; None, the default, leaves it as it is).
    ``ledger`` remembers idempotency keys (default: in memory, for this object's life).
    ``clock_skew`` is how many seconds before the send an order time may read and still
    match in :meth:`reconcile` (the server's clock and this machine's differ).
    ``check_ticks`` refuses a stock order whose price is off the KRX tick grid before it is
    sent (:func:`kiwoom_async.krx.check_order_ticks`); pass a function of the stock code
    returning ``"etf"`` or ``"stock"`` instead of True when trading ETFs (5 KRW ticks).
    """

    def __init__(
        self,
        rest: RestSession,
        *,
        ledger: OrderLedger | None = None,
        allow_real_orders: bool | None = None,
        clock_skew: float = 30.0,
        check_ticks: bool | InstrumentOf = False,
        placement: OrderPlacement | None = None,
    ) -> None:
        super().__init__(rest)
        self.check_ticks = check_ticks
        if placement is None:
            io = LedgerRunner(ledger if ledger is not None else MemoryLedger())
            placement = OrderPlacement(rest, io)
        self.placement = placement
        """Sends orders once; the client's credit and US order groups share it."""
        self._ledger_io = placement.ledger_io
        if allow_real_orders is not None:
            # The switch lives on the session, which also guards orders sent with rest.call.
            rest.allow_real_orders = allow_real_orders
        self.clock_skew = clock_skew
        self._reconciler = Reconciler(AccountAPI(rest), self._ledger_io)

    async def _place(self, request: TRRequest, idempotency_key: str | None) -> OrderAck:
        if self.check_ticks:
            instrument_of = None if self.check_ticks is True else self.check_ticks
            check_order_ticks(request.api_id, request.to_body(), instrument_of)
        return await super()._place(request, idempotency_key)

    @property
    def ledger(self) -> OrderLedger:
        """Where idempotency keys are remembered."""
        return self._ledger_io.ledger

    @ledger.setter
    def ledger(self, ledger: OrderLedger) -> None:
        self._ledger_io.ledger = ledger

    @property
    def allow_real_orders(self) -> bool:
        """Whether orders may be sent with ``env="real"``: the REST session's switch, which
        also guards orders sent with ``rest.call``."""
        return self.rest.allow_real_orders

    @allow_real_orders.setter
    def allow_real_orders(self, allowed: bool) -> None:
        self.rest.allow_real_orders = allowed

    # --- stock orders --------------------------------------------------------------------

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
    ) -> OrderAck:
        """kt10000 주식 매수주문: place a cash buy order.

        Args:
            stk_cd: plain six-character stock code (no ``_NX``/``_AL`` suffix).
            qty: shares, a whole number above zero.
            price: limit price in KRW; None for the price-less (market-type) trade types.
            trde_tp: trade type code (see :data:`StockTradeType`).
            dmst_stex_tp: exchange, KRX/NXT/SOR (the mock server takes KRX only).
            cond_price: stop price, for stop-limit ``"28"`` only.
            idempotency_key: a repeat with the same key and order returns the first ack
                without sending.
        """
        return await self._new_stock_order(
            StockBuyOrderRequest,
            stk_cd,
            qty,
            price,
            trde_tp,
            dmst_stex_tp,
            cond_price,
            idempotency_key,
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
    ) -> OrderAck:
        """kt10001 주식 매도주문: place a cash sell order. Arguments as :meth:`buy`."""
        return await self._new_stock_order(
            StockSellOrderRequest,
            stk_cd,
            qty,
            price,
            trde_tp,
            dmst_stex_tp,
            cond_price,
            idempotency_key,
        )

    async def modify(
        self,
        orig_ord_no: str,
        stk_cd: str,
        *,
        qty: int,
        price: int,
        cond_price: int | None = None,
        dmst_stex_tp: Exchange = "KRX",
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt10002 주식 정정주문: change the price (and quantity) of an open order.

        The answer carries a new order number; ``base_orig_ord_no`` is the root order.

        Args:
            orig_ord_no: the order to modify, as the server numbered it.
            stk_cd: the order's stock code.
            qty: shares to move to the new price; 0 moves all that is left.
            price: the new price in KRW, above zero.
            cond_price: the new stop price of a stop-limit order.
        """
        return await self._modify(
            StockModifyOrderRequest,
            orig_ord_no,
            stk_cd,
            qty,
            price,
            cond_price,
            dmst_stex_tp,
            idempotency_key,
        )

    async def cancel(
        self,
        orig_ord_no: str,
        stk_cd: str,
        *,
        qty: int = 0,
        dmst_stex_tp: Exchange = "KRX",
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt10003 주식 취소주문: cancel an open order.

        Args:
            orig_ord_no: the order to cancel, as the server numbered it.
            stk_cd: the order's stock code.
            qty: shares to cancel; 0 (the default) cancels all that is left.
        """
        return await self._cancel(
            StockCancelOrderRequest, orig_ord_no, stk_cd, qty, dmst_stex_tp, idempotency_key
        )

    # --- gold spot orders ----------------------------------------------------------------

    async def gold_buy(
        self,
        stk_cd: GoldCode,
        *,
        qty: int,
        price: int,
        trde_tp: GoldTradeType = "00",
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt50000 금현물 매수주문: place a gold spot buy order (always a limit order).

        Args:
            stk_cd: ``M04020000`` (gold 99.99% 1kg) or ``M04020100`` (mini gold 100g).
            qty: grams (units of the product), a whole number above zero.
            price: limit price in KRW, above zero.
            trde_tp: 00 limit, 10 limit IOC, 20 limit FOK.
        """
        return await self._new_gold_order(
            GoldSpotBuyOrderRequest, stk_cd, qty, price, trde_tp, idempotency_key
        )

    async def gold_sell(
        self,
        stk_cd: GoldCode,
        *,
        qty: int,
        price: int,
        trde_tp: GoldTradeType = "00",
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt50001 금현물 매도주문: place a gold spot sell order. Arguments as
        :meth:`gold_buy`."""
        return await self._new_gold_order(
            GoldSpotSellOrderRequest, stk_cd, qty, price, trde_tp, idempotency_key
        )

    async def gold_modify(
        self,
        orig_ord_no: str,
        stk_cd: GoldCode,
        *,
        qty: int,
        price: int,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt50002 금현물 정정주문: change the price of an open gold spot order; qty 0 moves
        all that is left."""
        api_id = GoldSpotModifyOrderRequest.api_id
        self._guard(api_id)
        request = GoldSpotModifyOrderRequest(
            stk_cd=_gold_code(api_id, stk_cd),
            orig_ord_no=order_number(api_id, orig_ord_no),
            mdfy_qty=quantity(api_id, "mdfy_qty", qty, allow_zero=True),
            mdfy_uv=positive_price(api_id, "mdfy_uv", price),
        )
        return await self._place(request, idempotency_key)

    async def gold_cancel(
        self,
        orig_ord_no: str,
        stk_cd: GoldCode,
        *,
        qty: int = 0,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt50003 금현물 취소주문: cancel an open gold spot order; qty 0 (the default)
        cancels all that is left."""
        api_id = GoldSpotCancelOrderRequest.api_id
        self._guard(api_id)
        request = GoldSpotCancelOrderRequest(
            orig_ord_no=order_number(api_id, orig_ord_no),
            stk_cd=_gold_code(api_id, stk_cd),
            cncl_qty=quantity(api_id, "cncl_qty", qty, allow_zero=True),
        )
        return await self._place(request, idempotency_key)

    # --- reconciliation ------------------------------------------------------------------

    async def reconcile(
        self,
        target: OrderStatusUnknownError | str,
        *,
        release_if_missing: bool = False,
    ) -> Reconciliation:
        """Find out whether an order whose answer was lost reached the server.

        ``target`` is the :class:`OrderStatusUnknownError` the order raised, or the
        idempotency key it was sent with (which also covers a process that died mid-send).

        Matching rule: an order matches when its stock code, side, quantity and price equal the
        request's, it is a new order (modify/cancel: it refers to the same original order and
        is a modify/cancel of it), its order time is no earlier than the send time minus
        ``clock_skew`` (when the send time is known), and its number is not already tied to
        another idempotency key for the same trading day (KST) in the ledger. New stock orders
        sent today are looked up in open orders (ka10075) and filled orders (ka10076), then in
        the order history (kt00007) if neither has them; new stock orders sent on another day,
        and every modify/cancel, in kt00007 for the send date; gold orders in kt50031. The
        histories are read newest first and stop at rows older than the send time.

        Limits: an identical order placed in the same window by hand or by another program
        matches too (the result is then ``ambiguous`` and nothing is decided for you); order
        lists are read up to a bounded number of pages, and a search cut short is reported
        with ``complete=False`` and settles nothing.

        Only an ``unknown`` entry, or an ``inflight`` one older than
        :data:`~kiwoom_async.ledger.INFLIGHT_TIMEOUT`, is settled: when exactly one order
        matches it becomes ``done`` with that order number; when nothing matches it is left
        as it is, unless ``release_if_missing`` frees the key for a new attempt. Other
        entries are reported on and left alone.
        """
        return await self._reconciler.reconcile(
            target, release_if_missing=release_if_missing, clock_skew=self.clock_skew
        )

    # --- the shared path -----------------------------------------------------------------

    async def _new_gold_order(
        self,
        request_type: type[GoldSpotBuyOrderRequest] | type[GoldSpotSellOrderRequest],
        stk_cd: str,
        qty: int,
        price: int,
        trde_tp: str,
        idempotency_key: str | None,
    ) -> OrderAck:
        api_id = request_type.api_id
        self._guard(api_id)
        code = _gold_code(api_id, stk_cd)
        if not isinstance(trde_tp, str) or trde_tp not in GOLD_TRADE_TYPES:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidOrderError(
                api_id, "trde_tp", f"unknown trade type {trde_tp!r}; known: 00, 10, 20"
            )
        request = request_type(
            stk_cd=code,
            ord_qty=quantity(api_id, "ord_qty", qty, allow_zero=False),
            ord_uv=positive_price(api_id, "ord_uv", price),
            trde_tp=trde_tp,
        )
        return await self._place(request, idempotency_key)


# --- field checks


def _gold_code(api_id: str, code: object) -> str:
    if not isinstance(code, str) or code not in GOLD_CODES:
        raise InvalidOrderError(
            api_id, "stk_cd", f"{code!r} is not a gold spot code; known: M04020000, M04020100"
        )
    return code
