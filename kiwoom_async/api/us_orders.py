"""The US order and currency exchange groups (``kw.us.order``, ``kw.us.exchange``): each order
is sent at most once through the client's one idempotency ledger, with US fields checked
before anything is sent."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from .._generated.api.us_exchange import UsExchangeQueries
from .._generated.api.us_order import UsOrderQueries
from .._generated.models.us_exchange import UsCurrencyExchangeRequest
from .._generated.models.us_order import (
    UsStockBuyOrderRequest,
    UsStockCancelOrderRequest,
    UsStockModifyOrderRequest,
    UsStockSellOrderRequest,
)
from ..errors import InvalidOrderError
from ..ledger import OrderAck
from ..models._convert import TRRequest
from ..rest import RestSession
from ._order_forms import order_number, quantity
from ._placement import OrderPlacement

__all__ = ["UsExchange", "UsExchangeAPI", "UsOrderAPI"]

UsExchange = Literal["NA", "ND", "NY"]
"""``stex_tp``: NA AMEX, ND NASDAQ, NY NYSE."""
_EXCHANGES = frozenset({"NA", "ND", "NY"})
# Upper-case symbols as the official examples write them (NVDA); share classes take a dot
# or a slash (BRK.B). Lower case is refused rather than guessed.
_TICKER = re.compile(r"[A-Z0-9][A-Z0-9./-]{0,11}")
_TRADE_TYPE = re.compile(r"[0-9]{2}")
Amount = Decimal | int | float | str


class UsOrderAPI(UsOrderQueries):
    """US order TRs (미국주식 주문). Reach it as ``kw.us.order``.

    Prices are dollars: pass a :class:`~decimal.Decimal` (or an int, a float, or digits);
    ``ord_uv`` carries at most two decimal places. ``trde_tp`` is sent as given (two digits;
    the fact base lists no codes for it: ``"00"`` is what the official examples send).
    A lost answer raises :class:`~kiwoom_async.errors.OrderStatusUnknownError`; look the
    order up with ``kw.us.account`` before placing it again (US orders have no automatic
    reconciliation yet).
    """

    def __init__(self, rest: RestSession, placement: OrderPlacement) -> None:
        super().__init__(rest)
        self.placement = placement

    async def buy(
        self,
        stk_cd: str,
        *,
        stex_tp: UsExchange,
        qty: int,
        price: Amount,
        trde_tp: str = "00",
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """ust20000 미국주식 매수 주문: buy ``qty`` shares of ``stk_cd`` on ``stex_tp``."""
        request = self._new(UsStockBuyOrderRequest, stk_cd, stex_tp, qty, price, trde_tp)
        return await self.placement.place(request, idempotency_key)

    async def sell(
        self,
        stk_cd: str,
        *,
        stex_tp: UsExchange,
        qty: int,
        price: Amount,
        trde_tp: str = "00",
        stop_price: Amount | None = None,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """ust20001 미국주식 매도 주문: sell; ``stop_price`` for a stop order."""
        stop = (
            {}
            if stop_price is None
            else {"stop_pric": _dollars("ust20001", "stop_pric", stop_price)}
        )
        request = self._new(UsStockSellOrderRequest, stk_cd, stex_tp, qty, price, trde_tp, stop)
        return await self.placement.place(request, idempotency_key)

    async def modify(
        self,
        orig_ord_no: str,
        stk_cd: str,
        *,
        stex_tp: UsExchange,
        price: Amount,
        stop_price: Amount | None = None,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """ust20002 미국주식 정정 주문: move an open order to a new price."""
        api_id = UsStockModifyOrderRequest.api_id
        self.rest.check_order_allowed(api_id)
        request = UsStockModifyOrderRequest(
            orig_ord_no=order_number(api_id, orig_ord_no, digits=9),
            stex_tp=_exchange(api_id, stex_tp),
            stk_cd=_ticker(api_id, stk_cd),
            mdfy_uv=_dollars(api_id, "mdfy_uv", price),
            stop_pric="" if stop_price is None else _dollars(api_id, "stop_pric", stop_price),
        )
        return await self.placement.place(request, idempotency_key)

    async def cancel(
        self,
        orig_ord_no: str,
        stk_cd: str,
        *,
        stex_tp: UsExchange,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """ust20003 미국주식 취소 주문: cancel an open order."""
        api_id = UsStockCancelOrderRequest.api_id
        self.rest.check_order_allowed(api_id)
        request = UsStockCancelOrderRequest(
            orig_ord_no=order_number(api_id, orig_ord_no, digits=9),
            stex_tp=_exchange(api_id, stex_tp),
            stk_cd=_ticker(api_id, stk_cd),
        )
        return await self.placement.place(request, idempotency_key)

    def _new(
        self,
        request_type: type[UsStockBuyOrderRequest] | type[UsStockSellOrderRequest],
        stk_cd: str,
        stex_tp: str,
        qty: int,
        price: Amount,
        trde_tp: str,
        extra: dict[str, str] | None = None,
    ) -> TRRequest:
        api_id = request_type.api_id
        # Before any other check: a refused order leaves no trace.
        self.rest.check_order_allowed(api_id)
        if not isinstance(trde_tp, str) or not _TRADE_TYPE.fullmatch(trde_tp):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidOrderError(api_id, "trde_tp", f"{trde_tp!r} is not a two-digit code")
        return request_type(
            stex_tp=_exchange(api_id, stex_tp),
            stk_cd=_ticker(api_id, stk_cd),
            ord_qty=quantity(api_id, "ord_qty", qty, allow_zero=False),
            ord_uv=_dollars(api_id, "ord_uv", price, places=2),
            trde_tp=trde_tp,
            **(extra or {}),
        )


class UsExchangeAPI(UsExchangeQueries):
    """Currency exchange TRs (환전). Reach it as ``kw.us.exchange``. :meth:`convert` moves
    money, so it is an order: sent at most once, under the real-money guard."""

    def __init__(self, rest: RestSession, placement: OrderPlacement) -> None:
        super().__init__(rest)
        self.placement = placement

    async def convert(
        self,
        exch_tp: Literal["1", "2"],
        amount: Amount,
        *,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """ust31302 환전 신청: exchange ``amount`` of the currency sold: won for ``"1"``
        (KRW -> USD, a whole number), dollars for ``"2"`` (USD -> KRW, at most two decimal
        places)."""
        api_id = UsCurrencyExchangeRequest.api_id
        self.rest.check_order_allowed(api_id)
        if exch_tp not in ("1", "2"):
            raise InvalidOrderError(api_id, "exch_tp", f"{exch_tp!r} is not 1 or 2")
        text = _dollars(api_id, "fc_exmn_amt", amount, places=0 if exch_tp == "1" else 2)
        request = UsCurrencyExchangeRequest(exch_tp=exch_tp, fc_exmn_amt=text)
        return await self.placement.place(request, idempotency_key)


# --- field checks -------------------------------------------------------------------------


def _exchange(api_id: str, stex_tp: object) -> str:
    if not isinstance(stex_tp, str) or stex_tp not in _EXCHANGES:
        raise InvalidOrderError(
            api_id, "stex_tp", f"{stex_tp!r} is not NA (AMEX), ND (NASDAQ) or NY (NYSE)"
        )
    return stex_tp


def _ticker(api_id: str, code: object) -> str:
    if not isinstance(code, str) or not _TICKER.fullmatch(code):
        raise InvalidOrderError(
            api_id, "stk_cd", f"{code!r} is not a US ticker (upper case, such as NVDA or BRK.B)"
        )
    return code


def _dollars(api_id: str, field: str, value: object, *, places: int = 4) -> str:
    """A positive amount as plain digits with at most ``places`` decimals."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise InvalidOrderError(api_id, field, f"{value!r} is not an amount")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidOrderError(api_id, field, f"{value!r} is not an amount") from None
    if not number.is_finite() or number <= 0:
        raise InvalidOrderError(api_id, field, f"{value!r} must be a finite amount above zero")
    text = format(number.normalize(), "f")
    decimals = len(text.partition(".")[2])
    if decimals > places:
        raise InvalidOrderError(
            api_id, field, f"{value!r} has {decimals} decimal places; at most {places} allowed"
        )
    if len(text) > 12:
        raise InvalidOrderError(api_id, field, f"{value!r} is longer than 12 characters")
    return text
