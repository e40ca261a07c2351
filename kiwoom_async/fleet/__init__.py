"""Fleet mode: many processes on one app key share, through Redis, what the broker gives once
per key: the token, the request budget, the order ledger and the realtime WebSocket.

``Kiwoom(appkey, secretkey, redis_url="redis://127.0.0.1:6379/0")`` turns it on; the pieces
also work on their own (``TokenManager(..., redis_url=)``, ``RestSession(..., redis_url=)``,
:class:`RedisLedger`). Needs the ``redis`` extra: ``pip install 'kiwoom-async[redis]'``.
"""

from ._connect import fleet_scope, redis_location
from ._errors import FleetUnavailableError, LedgerUnavailableError
from .budget import RedisBudget
from .ledger import RedisLedger
from .realtime import FleetRealtime, FleetRealtimeStats
from .token import RedisTokenStore

__all__ = [
    "FleetRealtime",
    "FleetRealtimeStats",
    "FleetUnavailableError",
    "LedgerUnavailableError",
    "RedisBudget",
    "RedisLedger",
    "RedisTokenStore",
    "fleet_scope",
    "redis_location",
]
