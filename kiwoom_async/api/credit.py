"""Credit order TRs (신용주문, /api/dostk/crdordr): buying on margin loans and selling what
was bought with them. The same checks and the same once-only sending as cash orders
(:mod:`kiwoom_async.api.order`), through the client's one idempotency ledger."""

from __future__ import annotations

import re
from typing import Literal

from .._generated.models.credit import (
    CreditBuyOrderRequest,
    CreditCancelOrderRequest,
    CreditModifyOrderRequest,
    CreditSellOrderRequest,
)
from ..errors import InvalidOrderError
from ..ledger import OrderAck
from ..rest import RestSession
from ._base import TRGroup
from ._order_forms import Exchange, StockOrderForms, StockTradeType
from ._placement import OrderPlacement

__all__ = ["CreditDealType", "CreditOrderAPI"]

CreditDealType = Literal["33", "99"]
"""kt10007 ``crd_deal_tp``: 33 융자 (a margin loan), 99 융자합 (all margin loans together)."""

_DATE = re.compile(r"[0-9]{8}")


class CreditOrderAPI(TRGroup, StockOrderForms):
    """Credit order TRs (신용주문). Reach it as ``kw.credit``. Orders are sent at most once;
    ``idempotency_key`` works as on ``kw.order``, in the same ledger."""

    def __init__(self, rest: RestSession, placement: OrderPlacement) -> None:
        super().__init__(rest)
        self.placement = placement

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
        """kt10006 신용 매수주문: buy on a margin loan. Arguments as ``kw.order.buy``."""
        return await self._new_stock_order(
            CreditBuyOrderRequest,
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
        crd_deal_tp: CreditDealType,
        crd_loan_dt: str = "",
        dmst_stex_tp: Exchange = "KRX",
        cond_price: int | None = None,
        idempotency_key: str | None = None,
    ) -> OrderAck:
        """kt10007 신용 매도주문: sell shares bought on a margin loan.

        Args:
            crd_deal_tp: 33 sells against one loan (give its ``crd_loan_dt``), 99 against
                all loans together.
            crd_loan_dt: the loan's date, YYYYMMDD.

        Other arguments as ``kw.order.sell``.
        """
        api_id = CreditSellOrderRequest.api_id
        self._guard(api_id)
        if crd_deal_tp not in ("33", "99"):
            raise InvalidOrderError(api_id, "crd_deal_tp", f"{crd_deal_tp!r} is not 33 or 99")
        if crd_loan_dt and not (isinstance(crd_loan_dt, str) and _DATE.fullmatch(crd_loan_dt)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidOrderError(api_id, "crd_loan_dt", f"{crd_loan_dt!r} is not YYYYMMDD")
        return await self._new_stock_order(
            CreditSellOrderRequest,
            stk_cd,
            qty,
            price,
            trde_tp,
            dmst_stex_tp,
            cond_price,
            idempotency_key,
            {"crd_deal_tp": crd_deal_tp, "crd_loan_dt": crd_loan_dt},
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
        """kt10008 신용 정정주문: change an open credit order. Arguments as
        ``kw.order.modify``."""
        return await self._modify(
            CreditModifyOrderRequest,
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
        """kt10009 신용 취소주문: cancel an open credit order (qty 0: all that is left)."""
        return await self._cancel(
            CreditCancelOrderRequest, orig_ord_no, stk_cd, qty, dmst_stex_tp, idempotency_key
        )
