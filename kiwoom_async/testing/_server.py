"""The :class:`Simulator`: an aiohttp server speaking Kiwoom's REST API and its realtime
WebSocket API on one local port."""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from ._config import SimConfig
from ._orders import OrderRecord
from ._rest import add_rest_routes
from ._state import SimState, SimStats
from ._ws import WS_PATH, WsStats, attach_ws

__all__ = ["WS_PATH", "Simulator", "build_app"]


def build_app(state: SimState) -> web.Application:
    """The aiohttp application serving ``state``: REST routes and the WebSocket route."""
    app = web.Application()
    add_rest_routes(app, state)
    attach_ws(app, state)
    return app


class Simulator:
    """A Kiwoom-compatible fake server on ``host:port`` (port 0: any free port).

    Knobs may come as a :class:`SimConfig`, as keyword arguments (``Simulator(rate_limit=5)``),
    or both (keywords override the config's fields). ``config`` is live: change its fields while
    the simulator runs.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **knobs: Any,
    ) -> None:
        base = config if config is not None else SimConfig()
        known = {f.name for f in dataclasses.fields(SimConfig)}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise TypeError(f"unknown simulator setting(s): {', '.join(unknown)}")
        if knobs:
            base = dataclasses.replace(base, **knobs)
        self._host = host
        self._port = port
        self.state = SimState(base)
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None

    # --- lifecycle ---

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        runner = web.AppRunner(build_app(self.state), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound = (self._host, int(address[1]))

    async def close(self) -> None:
        """Stop serving, cancel background tasks, close connections. Safe to call twice."""
        runner, self._runner = self._runner, None
        await self.state.cancel_tasks()
        if runner is not None:
            await runner.cleanup()
        await self.state.cancel_tasks()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- addresses ---

    @property
    def port(self) -> int:
        if self._bound is None:
            raise RuntimeError("simulator not started")
        return self._bound[1]

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the REST API."""
        return f"http://{self._url_host()}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port/api/dostk/websocket``."""
        return f"ws://{self._url_host()}:{self.port}{WS_PATH}"

    def _url_host(self) -> str:
        host = self._host
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if ":" in host:
            return "[::1]" if host == "::" else f"[{host}]"
        return host

    # --- views and controls ---

    @property
    def config(self) -> SimConfig:
        return self.state.config

    @property
    def stats(self) -> SimStats:
        return self.state.stats

    @property
    def orders(self) -> list[OrderRecord]:
        """Every accepted order request in arrival order (modifies and cancels included)."""
        return self.state.orders

    def add_account(self, appkey: str, secretkey: str) -> None:
        """Accept this app key / secret key pair (the only ones with ``strict_credentials``)."""
        self.state.add_account(appkey, secretkey)

    @property
    def ws_stats(self) -> WsStats:
        """Counters and records of the WebSocket side."""
        stats = self.state.ws
        if stats is None:
            raise RuntimeError("the WebSocket side is not part of this simulator")
        return stats

    def invalidate_tokens(self) -> None:
        """Refuse every token issued so far, as if the server had restarted."""
        self.state.invalidate_tokens()
