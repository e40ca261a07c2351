"""Kiwoom: the facade that owns a TokenManager and a RestSession and opens realtime
sessions sharing the same token."""

from __future__ import annotations

import dataclasses
import enum
import os
import weakref
from typing import TYPE_CHECKING, Any, Final

from ._credentials import credentials_from_env
from ._env import Env, check_env, ws_url_for
from ._env import ws_url as default_ws_url
from .api import AccountAPI, ChartAPI, OrderAPI, QuoteAPI
from .auth import TokenManager
from .ledger import OrderLedger
from .ratelimit import RateLimits
from .realtime import RealtimeSession
from .rest import RestSession
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .trading import TradingSession

__all__ = ["Kiwoom"]


class _Default(enum.Enum):
    TOKEN = enum.auto()


ENV_DEFAULT: Final = _Default.TOKEN


class Kiwoom:
    """The client for one app key in one environment.

    ``requests_per_second`` overrides the per-app-key budget (default: the environment's,
    see :meth:`RateLimits.default_for`); ``None`` turns client-side limiting off.
    ``rate_limits`` sets every layer at once (per key, per TR, orders).
    ``allow_real_orders`` must be True before any order is sent with ``env="real"``.
    ``order_ledger`` remembers idempotency keys of orders (default: in memory; pass a
    :class:`~kiwoom_async.ledger.FileLedger` to share them across processes and restarts).

    Typed TR wrappers: ``quote``, ``order``, ``account`` and ``chart``.
    """

    def __init__(
        self,
        appkey: str,
        secretkey: str,
        *,
        env: str = "mock",
        base_url: str | None = None,
        ws_url: str | None = None,
        requests_per_second: float | _Default | None = ENV_DEFAULT,
        rate_limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        allow_real_orders: bool = False,
        order_ledger: OrderLedger | None = None,
    ) -> None:
        self.env: Env = check_env(env)
        self.tokens = TokenManager(appkey, secretkey, env=self.env, base_url=base_url)
        limits = rate_limits or RateLimits.default_for(self.env)
        if requests_per_second is not ENV_DEFAULT:
            limits = dataclasses.replace(limits, per_key=requests_per_second)
        self.rest = RestSession(
            self.tokens,
            rate_limits=limits,
            retry=retry,
            timeout=timeout,
            allow_real_orders=allow_real_orders,
        )
        # A REST host given without a WebSocket URL must not send its token to Kiwoom's own
        # WebSocket host: the WebSocket is assumed on the same host and port.
        if ws_url is None and base_url is not None:
            ws_url = ws_url_for(base_url)
        self.ws_url = default_ws_url(self.env, ws_url)
        self._realtime: weakref.WeakSet[RealtimeSession] = weakref.WeakSet()
        self.quote = QuoteAPI(self.rest)
        self.order = OrderAPI(self.rest, ledger=order_ledger, allow_real_orders=allow_real_orders)
        self.account = AccountAPI(self.rest)
        self.chart = ChartAPI(self.rest)

    @property
    def allow_real_orders(self) -> bool:
        """Whether orders may be sent with ``env="real"``; the order API reads it per order."""
        return self.rest.allow_real_orders

    @allow_real_orders.setter
    def allow_real_orders(self, allowed: bool) -> None:
        self.rest.allow_real_orders = allowed

    @classmethod
    def from_env(cls, env: str | None = None, **options: Any) -> Kiwoom:
        """A client with its keys from the environment: ``KIWOOM_APPKEY`` and
        ``KIWOOM_SECRETKEY`` (for the mock environment ``KIWOOM_APPKEY_MOCK`` and
        ``KIWOOM_SECRETKEY_MOCK`` first), the environment from ``env`` or ``KIWOOM_ENV``
        (default ``"mock"``). Other options as for :class:`Kiwoom`. Raises
        :class:`~kiwoom_async.CredentialsError`, naming the variables, when a key is
        missing; it never shows a value."""
        credentials = credentials_from_env(env)
        return cls(credentials.appkey, credentials.secretkey, env=credentials.env, **options)

    def __repr__(self) -> str:
        return f"<Kiwoom env={self.env!r} base_url={self.rest.base_url!r}>"

    async def __aenter__(self) -> Kiwoom:
        await self.rest.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def realtime(self, **options: Any) -> RealtimeSession:
        """A realtime session sharing this client's TokenManager (use it with ``async with``).
        ``options`` go to :class:`RealtimeSession` (queue size, overflow policy, backoff...)."""
        session = RealtimeSession(self.tokens, url=self.ws_url, **options)
        self._realtime.add(session)
        return session

    def trading(
        self,
        *,
        state_path: str | os.PathLike[str] | None = None,
        grp_no: str = "9999",
        **realtime_options: Any,
    ) -> TradingSession:
        """Live trades (use it with ``async with``): orders placed through it come back as
        :class:`~kiwoom_async.trading.Trade` objects kept true by a realtime session of its
        own (00 and 04, sharing this client's token) and by REST snapshots after every gap.
        ``state_path`` keeps trades and fills in a file across restarts (put it beside the
        order ledger's file); ``realtime_options`` go to :class:`RealtimeSession`."""
        from .trading import TradingSession

        return TradingSession(
            self.order,
            self.rest,
            self.realtime(**realtime_options),
            grp_no=grp_no,
            state_path=state_path,
        )

    async def aclose(self) -> None:
        """Close the realtime sessions opened here and the connection pool, then revoke the
        token. Idempotent."""
        try:
            for session in list(self._realtime):
                await session.aclose()
            await self.rest.aclose()
        finally:
            await self.tokens.aclose()
