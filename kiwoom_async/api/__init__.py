"""Typed TR wrappers, grouped as the official guide groups the TRs: ``kw.quote``,
``kw.order``, ``kw.account``, ``kw.chart``, ``kw.stock``, ``kw.ranking`` ... and the US
groups under ``kw.us``.

The query groups are generated (kiwoom_async/_generated/api/); the order groups are written
by hand here, since they carry the order-safety checks, the idempotency ledger and
reconciliation. Every class is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._base import TRGroup, TypedPager, check_stock_code

if TYPE_CHECKING:
    from .._generated.api import *  # noqa: F403  (typed names for checkers)
    from .credit import CreditOrderAPI
    from .order import (
        GOLD_CODES,
        PRICELESS_TRADE_TYPES,
        Exchange,
        GoldCode,
        GoldTradeType,
        OrderAPI,
        Reconciliation,
        StockTradeType,
    )
    from .us import UsAPI
    from .us_orders import UsExchangeAPI, UsOrderAPI

_HAND_WRITTEN = {
    "GOLD_CODES": "order",
    "PRICELESS_TRADE_TYPES": "order",
    "Exchange": "order",
    "GoldCode": "order",
    "GoldTradeType": "order",
    "OrderAPI": "order",
    "Reconciliation": "order",
    "StockTradeType": "order",
    "CreditOrderAPI": "credit",
    "UsAPI": "us",
    "UsExchangeAPI": "us_orders",
    "UsOrderAPI": "us_orders",
}

__all__ = [
    "GOLD_CODES",
    "PRICELESS_TRADE_TYPES",
    "CreditOrderAPI",
    "Exchange",
    "GoldCode",
    "GoldTradeType",
    "OrderAPI",
    "Reconciliation",
    "StockTradeType",
    "TRGroup",
    "TypedPager",
    "UsAPI",
    "UsExchangeAPI",
    "UsOrderAPI",
    "check_stock_code",
]


def __getattr__(name: str) -> Any:
    module = _HAND_WRITTEN.get(name)
    if module is not None:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    from .._generated.api import GROUP_MODULES

    generated = GROUP_MODULES.get(name)
    if generated is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"kiwoom_async._generated.api.{generated}"), name)
