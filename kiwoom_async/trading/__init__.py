"""Live trades: orders that stay true (status, fills, positions) across gaps in the stream.

``async with kw.trading() as trading`` opens a :class:`TradingSession`; its order methods
return :class:`Trade` objects kept current by the account's 00/04 events and by REST
snapshots (ka10075, ka10076, kt00018) read on start and after every gap. The state behind
them (:class:`TradeState` and its parts) is plain data.
"""

from .book import BookStats, TradeBook, TradeUpdate
from .model import Fill, Leg, LogEntry, OrderSpec, Position, TradeState, TradeStatus
from .session import TradingSession
from .trade import Trade, TradeNotOpenError, TradeTimeoutError, TradingClosedError, TradingError

__all__ = [
    "BookStats",
    "Fill",
    "Leg",
    "LogEntry",
    "OrderSpec",
    "Position",
    "Trade",
    "TradeBook",
    "TradeNotOpenError",
    "TradeState",
    "TradeStatus",
    "TradeTimeoutError",
    "TradeUpdate",
    "TradingClosedError",
    "TradingError",
    "TradingSession",
]
