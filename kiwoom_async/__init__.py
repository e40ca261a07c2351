"""kiwoom_async: the asyncio client for the Kiwoom Securities REST and realtime API."""

from ._credentials import CredentialsError
from .api import (
    AccountAPI,
    ChartAPI,
    OrderAPI,
    QuoteAPI,
    Reconciliation,
    TypedPager,
)
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

__version__ = "0.1.0.dev0"

__all__ = [
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
    "TransportError",
    "TypedPager",
    "UnknownTRError",
    "__version__",
]
