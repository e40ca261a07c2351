"""Typed TR wrappers, grouped as the official guide groups the TRs: ``kw.quote``,
``kw.order``, ``kw.account`` and ``kw.chart``."""

from ._base import TRGroup, TypedPager, check_stock_code
from .account import AccountAPI
from .chart import ChartAPI
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
from .quote import QuoteAPI

__all__ = [
    "GOLD_CODES",
    "PRICELESS_TRADE_TYPES",
    "AccountAPI",
    "ChartAPI",
    "Exchange",
    "GoldCode",
    "GoldTradeType",
    "OrderAPI",
    "QuoteAPI",
    "Reconciliation",
    "StockTradeType",
    "TRGroup",
    "TypedPager",
    "check_stock_code",
]
