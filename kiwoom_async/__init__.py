"""kiwoom_async: the asyncio client for the Kiwoom Securities REST and realtime API."""

from typing import TYPE_CHECKING, Any

from ._credentials import CredentialsError
from ._kst import KST
from .auth import TokenManager
from .errors import (
    APIError,
    AuthError,
    ConnectionClosedError,
    EventQueueOverflowError,
    IdempotencyError,
    InvalidOrderError,
    InvalidStockCodeError,
    KiwoomError,
    KiwoomTimeoutError,
    KiwoomValidationError,
    LedgerCorruptError,
    LoginRefusedError,
    MalformedResponseError,
    MalformedValueError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
    RealOrderNotAllowedError,
    RealtimeError,
    SessionClosedError,
    SessionTakenOverError,
    SubscriptionError,
    TokenBudgetError,
    TransportError,
    UnknownTRError,
)
from .kiwoom import Kiwoom
from .ledger import FileLedger, LedgerEntry, MemoryLedger, OrderAck, OrderLedger
from .ratelimit import RateLimiter, RateLimits
from .realtime import RealtimeSession, RealtimeStats
from .registry import REGISTRY, TRSpec
from .rest import Pager, Response, RestSession
from .retry import Backoff, RetryPolicy

if TYPE_CHECKING:
    from .api import AccountAPI, ChartAPI, OrderAPI, QuoteAPI, Reconciliation, TypedPager
    from .trading import Trade, TradeStatus, TradingSession

__version__ = "0.1.0.dev0"

# The typed TR groups load their models on first use: importing the package stays cheap.
_FROM_API = frozenset(
    {"AccountAPI", "ChartAPI", "OrderAPI", "QuoteAPI", "Reconciliation", "TypedPager"}
)


_FROM_TRADING = frozenset({"Trade", "TradeStatus", "TradingSession"})


def __getattr__(name: str) -> Any:
    if name in _FROM_TRADING:
        from . import trading

        return getattr(trading, name)
    if name in _FROM_API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KST",
    "REGISTRY",
    "APIError",
    "AccountAPI",
    "AuthError",
    "Backoff",
    "ChartAPI",
    "ConnectionClosedError",
    "CredentialsError",
    "EventQueueOverflowError",
    "FileLedger",
    "IdempotencyError",
    "InvalidOrderError",
    "InvalidStockCodeError",
    "Kiwoom",
    "KiwoomError",
    "KiwoomTimeoutError",
    "KiwoomValidationError",
    "LedgerCorruptError",
    "LedgerEntry",
    "LoginRefusedError",
    "MalformedResponseError",
    "MalformedValueError",
    "MemoryLedger",
    "OrderAPI",
    "OrderAck",
    "OrderLedger",
    "OrderRejectedError",
    "OrderStatusUnknownError",
    "Pager",
    "QuoteAPI",
    "RateLimitError",
    "RateLimiter",
    "RateLimits",
    "RealOrderNotAllowedError",
    "RealtimeError",
    "RealtimeSession",
    "RealtimeStats",
    "Reconciliation",
    "Response",
    "RestSession",
    "RetryPolicy",
    "SessionClosedError",
    "SessionTakenOverError",
    "SubscriptionError",
    "TRSpec",
    "TokenBudgetError",
    "TokenManager",
    "Trade",
    "TradeStatus",
    "TradingSession",
    "TransportError",
    "TypedPager",
    "UnknownTRError",
    "__version__",
]
