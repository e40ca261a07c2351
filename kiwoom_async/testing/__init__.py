"""A Kiwoom-compatible fake server for tests, examples and demos.

>>> async with Simulator(rate_limit=5, pages=4) as sim:  # doctest: +SKIP
...     sim.base_url, sim.ws_url

It serves every domestic REST TR of the registry on 127.0.0.1 with the official example bodies,
issues tokens, rate limits, paginates, validates and fills orders against a deterministic market
model, serves the realtime WebSocket (LOGIN, REG/REMOVE, ticks, PING, order fills, condition
search) on the same port, and injects faults on request (see :class:`SimConfig`).
"""

from __future__ import annotations

from ._config import SimConfig
from ._market import Book, Market, Tick
from ._orders import OrderListener, OrderRecord, Position
from ._server import Simulator
from ._state import SimState, SimStats
from ._ws import WsStats

__all__ = [
    "Book",
    "Market",
    "OrderListener",
    "OrderRecord",
    "Position",
    "SimConfig",
    "SimState",
    "SimStats",
    "Simulator",
    "Tick",
    "WsStats",
]
