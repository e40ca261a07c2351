"""Kiwoom: the facade that owns a TokenManager and a RestSession and opens realtime
sessions sharing the same token."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import os
import weakref
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

from ._credentials import credentials_from_env
from ._env import Env, check_env, ws_url_for
from ._env import ws_url as default_ws_url
from ._generated.api.groups import DomesticGroups
from .auth import TokenManager
from .ledger import OrderLedger
from .ratelimit import RateLimits
from .realtime import RealtimeSession
from .rest import RestSession
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .api._placement import OrderPlacement
    from .api.credit import CreditOrderAPI
    from .api.order import OrderAPI
    from .api.us import UsAPI
    from .fleet.ledger import RedisLedger
    from .krx import InstrumentOf
    from .trading import TradingSession

__all__ = ["Kiwoom"]


class _Default(enum.Enum):
    TOKEN = enum.auto()


ENV_DEFAULT: Final = _Default.TOKEN


class Kiwoom(DomesticGroups):
    """The client for one app key in one environment.

    ``requests_per_second`` overrides the per-app-key budget (default: the environment's,
    see :meth:`RateLimits.default_for`); ``None`` turns client-side limiting off; ``"auto"``
    starts from the environment's and learns the server's limit from its answers.
    ``rate_limits`` sets every layer at once (per key, per TR, orders).
    ``allow_real_orders`` must be True before any order is sent with ``env="real"``.
    ``order_ledger`` remembers idempotency keys of orders (default: in memory; pass a
    :class:`~kiwoom_async.ledger.FileLedger` to share them across processes and restarts).
    ``check_ticks`` refuses orders priced off the KRX tick grid before sending (see
    :class:`~kiwoom_async.api.order.OrderAPI`).

    ``redis_url`` turns on fleet mode: every process given the same Redis and app key shares
    one token, one request budget and (unless ``order_ledger`` is given) one order ledger
    (:mod:`kiwoom_async.fleet`, the ``redis`` extra). ``redis_options`` go to redis-py.

    Typed TR wrappers, one attribute per group of the official guide, each built on first use:
    ``quote``, ``order``, ``account``, ``chart``, ``stock``, ``ranking``, ``sector``,
    ``investor``, ``elw``, ``etf``, ``theme``, ``short``, ``lending``, ``credit``,
    ``watchlist``, and the US groups under ``us`` (``kw.us.quote``, ``kw.us.order`` ...).
    """

    def __init__(
        self,
        appkey: str,
        secretkey: str,
        *,
        env: str = "mock",
        base_url: str | None = None,
        ws_url: str | None = None,
        requests_per_second: float | Literal["auto"] | _Default | None = ENV_DEFAULT,
        rate_limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        allow_real_orders: bool = False,
        order_ledger: OrderLedger | None = None,
        redis_url: str | None = None,
        redis_options: Mapping[str, Any] | None = None,
        check_ticks: bool | InstrumentOf = False,
    ) -> None:
        self.env: Env = check_env(env)
        self.tokens = TokenManager(
            appkey,
            secretkey,
            env=self.env,
            base_url=base_url,
            redis_url=redis_url,
            redis_options=redis_options,
        )
        self._redis = (redis_url, redis_options)
        self._fleet_ledger: RedisLedger | None = None
        if order_ledger is None and redis_url is not None:
            from .fleet.ledger import RedisLedger  # only in fleet mode: redis is optional

            order_ledger = self._fleet_ledger = RedisLedger(
                redis_url, scope=self.tokens.fingerprint, redis_options=redis_options
            )
        limits = rate_limits or RateLimits.default_for(self.env)
        if requests_per_second is not ENV_DEFAULT:
            limits = dataclasses.replace(limits, per_key=requests_per_second)
        self.rest = RestSession(
            self.tokens,
            rate_limits=limits,
            retry=retry,
            timeout=timeout,
            allow_real_orders=allow_real_orders,
            redis_url=redis_url,
            redis_options=redis_options,
        )
        # A REST host given without a WebSocket URL must not send its token to Kiwoom's own
        # WebSocket host: the WebSocket is assumed on the same host and port.
        if ws_url is None and base_url is not None:
            ws_url = ws_url_for(base_url)
        self.ws_url = default_ws_url(self.env, ws_url)
        self._realtime: weakref.WeakSet[RealtimeSession] = weakref.WeakSet()
        self._order_ledger = order_ledger
        self._check_ticks = check_ticks

    # The typed groups are built on first use, each loading only its own models. The query
    # groups come from DomesticGroups (generated); the order groups need the ledger.

    @cached_property
    def _placement(self) -> OrderPlacement:
        # One ledger and one once-only send for every order group of this client.
        from ._ledger_io import LedgerRunner
        from .api._placement import OrderPlacement
        from .ledger import MemoryLedger

        ledger = self._order_ledger if self._order_ledger is not None else MemoryLedger()
        return OrderPlacement(self.rest, LedgerRunner(ledger))

    @cached_property
    def order(self) -> OrderAPI:
        """Order TRs (주문): cash and gold spot orders, reconciliation."""
        from .api.order import OrderAPI

        return OrderAPI(self.rest, check_ticks=self._check_ticks, placement=self._placement)

    @cached_property
    def credit(self) -> CreditOrderAPI:
        """Credit order TRs (신용주문), sharing ``order``'s idempotency ledger."""
        from .api.credit import CreditOrderAPI

        return CreditOrderAPI(self.rest, self._placement)

    @cached_property
    def us(self) -> UsAPI:
        """The US groups: ``kw.us.quote``, ``kw.us.stock``, ``kw.us.order`` ..."""
        from .api.us import UsAPI

        return UsAPI(self.rest, self._placement)

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
        ``options`` go to :class:`RealtimeSession` (queue size, overflow policy, backoff...).
        With ``redis_url`` it is a :class:`~kiwoom_async.fleet.realtime.FleetRealtime`: one
        WebSocket for every process on the app key (``consumer=`` names this one, so that
        fills it had not finished with come back after a restart)."""
        redis_url, redis_options = self._redis
        if redis_url is None:
            session = RealtimeSession(self.tokens, url=self.ws_url, **options)
        else:  # one WebSocket for the fleet: kiwoom_async.fleet.realtime (``consumer=``)
            from .fleet.realtime import FleetRealtime

            session = FleetRealtime(
                self.tokens,
                redis_url=redis_url,
                url=self.ws_url,
                scope=self.tokens.fingerprint,
                redis_options=redis_options,
                **options,
            )
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
            if self._fleet_ledger is not None:
                await asyncio.to_thread(self._fleet_ledger.close)
