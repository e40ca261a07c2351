"""The checks and sending steps every stock-like order shares (cash and credit orders take
the same fields): a mixin for the order groups, and the field checks as functions."""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from ..errors import InvalidOrderError
from ..ledger import OrderAck
from ..models._convert import TRRequest
from ..rest import RestSession
from ._base import check_stock_code
from ._placement import OrderPlacement

__all__ = [
    "EXCHANGES",
    "PRICELESS_TRADE_TYPES",
    "STOCK_TRADE_TYPES",
    "Exchange",
    "StockOrderForms",
    "StockTradeType",
    "order_number",
    "positive_price",
    "quantity",
]

StockTradeType = Literal[
    "0", "3", "5", "81", "61", "62", "6", "7", "10", "13", "16", "20", "23", "26", "28", "29",
    "30", "31",
]  # fmt: skip
"""kt10000/kt10001 ``trde_tp``: 0 limit, 3 market, 5 conditional limit, 81 post-close
after-hours, 61 pre-open after-hours, 62 after-hours single price, 6 best-price limit,
7 top-priority limit, 10/13/16 limit/market/best-price IOC, 20/23/26 the same as FOK,
28 stop limit, 29 mid price, 30/31 mid price IOC/FOK."""
Exchange = Literal["KRX", "NXT", "SOR"]

STOCK_TRADE_TYPES: Final = frozenset(get_args(StockTradeType))
PRICELESS_TRADE_TYPES: Final = frozenset({"3", "13", "23", "6", "16", "26", "7", "61", "81"})
"""Types whose price is set by the market: they must be sent without ``ord_uv``."""
STOP_LIMIT: Final = "28"
EXCHANGES: Final = frozenset(get_args(Exchange))
# The order fields are 12 characters wide in the spec.
_FIELD_MAX: Final = 10**12 - 1


class StockOrderForms:
    """What the stock-like order groups share; they provide ``rest`` and ``placement``."""

    rest: RestSession
    placement: OrderPlacement

    def _guard(self, api_id: str) -> None:
        # Before any validation or ledger write: a refused order leaves no trace.
        self.rest.check_order_allowed(api_id)

    def _exchange(self, api_id: str, exchange: object) -> str:
        if not isinstance(exchange, str) or exchange not in EXCHANGES:
            raise InvalidOrderError(
                api_id, "dmst_stex_tp", f"{exchange!r} is not one of KRX, NXT, SOR"
            )
        if self.rest.tokens.env == "mock" and exchange != "KRX":
            raise InvalidOrderError(
                api_id, "dmst_stex_tp", f"the mock server takes KRX only, not {exchange}"
            )
        return exchange

    async def _new_stock_order(
        self,
        request_type: type[TRRequest],
        stk_cd: str,
        qty: int,
        price: int | None,
        trde_tp: str,
        dmst_stex_tp: str,
        cond_price: int | None,
        idempotency_key: str | None,
        extra: dict[str, Any] | None = None,
    ) -> OrderAck:
        api_id = request_type.api_id
        self._guard(api_id)
        code = check_stock_code(api_id, stk_cd, suffix_allowed=False)
        exchange = self._exchange(api_id, dmst_stex_tp)
        if not isinstance(trde_tp, str) or trde_tp not in STOCK_TRADE_TYPES:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidOrderError(
                api_id,
                "trde_tp",
                f"unknown trade type {trde_tp!r}; known: {', '.join(sorted(STOCK_TRADE_TYPES))}",
            )
        qty_checked = quantity(api_id, "ord_qty", qty, allow_zero=False)
        if trde_tp in PRICELESS_TRADE_TYPES:
            if price is not None:
                raise InvalidOrderError(
                    api_id,
                    "ord_uv",
                    f"trade type {trde_tp} takes its price from the market: pass price=None",
                )
            unit_price: int | str = ""
        else:
            if price is None:
                raise InvalidOrderError(api_id, "ord_uv", f"trade type {trde_tp} needs a price")
            unit_price = positive_price(api_id, "ord_uv", price)
        condition: int | str = ""
        if trde_tp == STOP_LIMIT:
            if cond_price is None:
                raise InvalidOrderError(api_id, "cond_uv", "stop limit (28) needs cond_price")
            condition = positive_price(api_id, "cond_uv", cond_price)
        elif cond_price is not None:
            raise InvalidOrderError(
                api_id, "cond_uv", f"cond_price is for stop limit (28) only, not {trde_tp}"
            )
        fields: dict[str, Any] = {
            "dmst_stex_tp": exchange,
            "stk_cd": code,
            "ord_qty": qty_checked,
            "ord_uv": unit_price,
            "trde_tp": trde_tp,
            "cond_uv": condition,
            **(extra or {}),
        }
        request = request_type(**fields)
        return await self._place(request, idempotency_key)

    async def _place(self, request: TRRequest, idempotency_key: str | None) -> OrderAck:
        return await self.placement.place(request, idempotency_key)

    async def _modify(
        self,
        request_type: type[TRRequest],
        orig_ord_no: str,
        stk_cd: str,
        qty: int,
        price: int,
        cond_price: int | None,
        dmst_stex_tp: str,
        idempotency_key: str | None,
    ) -> OrderAck:
        api_id = request_type.api_id
        self._guard(api_id)
        fields: dict[str, Any] = {
            "dmst_stex_tp": self._exchange(api_id, dmst_stex_tp),
            "orig_ord_no": order_number(api_id, orig_ord_no),
            "stk_cd": check_stock_code(api_id, stk_cd, suffix_allowed=False),
            "mdfy_qty": quantity(api_id, "mdfy_qty", qty, allow_zero=True),
            "mdfy_uv": positive_price(api_id, "mdfy_uv", price),
        }
        if cond_price is not None:
            fields["mdfy_cond_uv"] = positive_price(api_id, "mdfy_cond_uv", cond_price)
        return await self._place(request_type(**fields), idempotency_key)

    async def _cancel(
        self,
        request_type: type[TRRequest],
        orig_ord_no: str,
        stk_cd: str,
        qty: int,
        dmst_stex_tp: str,
        idempotency_key: str | None,
    ) -> OrderAck:
        api_id = request_type.api_id
        self._guard(api_id)
        fields: dict[str, Any] = {
            "dmst_stex_tp": self._exchange(api_id, dmst_stex_tp),
            "orig_ord_no": order_number(api_id, orig_ord_no),
            "stk_cd": check_stock_code(api_id, stk_cd, suffix_allowed=False),
            "cncl_qty": quantity(api_id, "cncl_qty", qty, allow_zero=True),
        }
        return await self._place(request_type(**fields), idempotency_key)


# --- field checks -------------------------------------------------------------------------


def quantity(api_id: str, field: str, qty: object, *, allow_zero: bool) -> int:
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InvalidOrderError(api_id, field, f"quantity must be an int, not {qty!r}")
    if qty < 0 or (qty == 0 and not allow_zero):
        floor = "zero or more (0: all that is left)" if allow_zero else "above zero"
        raise InvalidOrderError(api_id, field, f"quantity must be {floor}, not {qty}")
    if qty > _FIELD_MAX:
        raise InvalidOrderError(api_id, field, f"quantity must be at most {_FIELD_MAX}, not {qty}")
    return qty


def positive_price(api_id: str, field: str, price: object) -> int:
    if isinstance(price, bool) or not isinstance(price, int):
        raise InvalidOrderError(api_id, field, f"price must be an int in KRW, not {price!r}")
    if price <= 0:
        raise InvalidOrderError(api_id, field, f"price must be above zero, not {price}")
    if price > _FIELD_MAX:
        raise InvalidOrderError(api_id, field, f"price must be at most {_FIELD_MAX}, not {price}")
    return price


def order_number(api_id: str, ord_no: object, *, digits: int = 7) -> str:
    """An order number as the server numbered it: domestic ones have 7 digits, US ones 9."""
    if not isinstance(ord_no, str) or not ord_no.isascii() or not ord_no.isdigit():
        raise InvalidOrderError(api_id, "orig_ord_no", f"{ord_no!r} is not an order number")
    if len(ord_no) > digits:
        raise InvalidOrderError(api_id, "orig_ord_no", f"{ord_no!r} is longer than {digits} digits")
    return ord_no
