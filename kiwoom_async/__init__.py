"""kiwoom_async: the asyncio client for the Kiwoom Securities REST and realtime API."""

from .auth import TokenManager
from .errors import (
    APIError,
    AuthError,
    ConnectionClosedError,
    EventQueueOverflowError,
    IdempotencyError,
    KiwoomError,
    KiwoomTimeoutError,
    KiwoomValidationError,
    LoginRefusedError,
    MalformedResponseError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
    RealOrderNotAllowedError,
    RealtimeError,
    SessionTakenOverError,
    SubscriptionError,
    TransportError,
    UnknownTRError,
)
from .kiwoom import Kiwoom
from .ratelimit import RateLimiter, RateLimits
from .realtime import RealtimeSession, RealtimeStats
from .registry import REGISTRY, TRSpec
from .rest import Pager, Response, RestSession
from .retry import RetryPolicy

__version__ = "0.1.0.dev0"

__all__ = [
    "REGISTRY",
    "APIError",
    "AuthError",
    "ConnectionClosedError",
    "EventQueueOverflowError",
    "IdempotencyError",
    "Kiwoom",
    "KiwoomError",
    "KiwoomTimeoutError",
    "KiwoomValidationError",
    "LoginRefusedError",
    "MalformedResponseError",
    "OrderRejectedError",
    "OrderStatusUnknownError",
    "Pager",
    "RateLimitError",
    "RateLimiter",
    "RateLimits",
    "RealOrderNotAllowedError",
    "RealtimeError",
    "RealtimeSession",
    "RealtimeStats",
    "Response",
    "RestSession",
    "RetryPolicy",
    "SessionTakenOverError",
    "SubscriptionError",
    "TRSpec",
    "TokenManager",
    "TransportError",
    "UnknownTRError",
    "__version__",
]
