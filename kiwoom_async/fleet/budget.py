"""One request budget per app key for every process of the fleet, enforced in Redis.

The budgets of :class:`~kiwoom_async.ratelimit.RateLimits` (per key, per TR, orders) are
kept as GCRA theoretical arrival times, one Redis key per layer
(``{prefix}:{scope}:rate:key``, ``...:rate:orders``, ``...:rate:tr:<api_id>``), and one Lua
script decides a grant for every layer of a request at once: one round trip per grant. Each
layer's grants are at least ``(1 + margin) / rate`` apart, timed by Redis's clock, so no two
hosts' clocks have to agree and no server-side algorithm (sliding window, fixed window, token
bucket) can reject them. ``burst`` is not applied across the fleet: evenly spaced grants reach
the full rate too, and a burst shared by processes would break a sliding-window server's limit.

Grants are booked in the order requests reach Redis, however far ahead the first layer (the
app key's budget) is booked, so no process starves. A request held up by a narrower layer (its
TR's budget, the order budget) by more than one interval of the first layer is not booked but
told when to ask again: waiting on one TR's budget never books the key's budget far ahead for
everyone else.

Redis unreachable: orders fail closed (:class:`FleetUnavailableError`, nothing sent);
queries, by default (``queries_when_down="local"``), fall back to this process's own limiter
at the same rates, with a warning, and try Redis again after ``retry_redis_after`` seconds.
With N processes on local limiting the server may see up to N times the budget and answer
with rate-limit errors, which queries retry with backoff. ``queries_when_down="fail"`` raises
instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

import redis.asyncio
from redis.commands.core import AsyncScript

from ..errors import KiwoomValidationError
from ..ratelimit import RateLimiter, RateLimits
from ._connect import (
    DEFAULT_PREFIX,
    REDIS_ERRORS,
    async_client,
    fleet_scope,
    redis_location,
    unavailable,
    uncancelled,
)

__all__ = ["RedisBudget"]

log = logging.getLogger("kiwoom_async.fleet")

_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local horizon = tonumber(ARGV[n + 1])
local first = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local grant = first
for i = 2, n do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat > grant then grant = tat end
end
if grant - first > horizon then
  return {0, grant - horizon - now}
end
for i = 1, n do
  local later = grant + tonumber(ARGV[i])
  local ttl = math.floor((later - now) / 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.0f', later), 'PX', ttl)
end
return {1, grant - now}
"""
"""KEYS: the layers' arrival-time keys, the widest (per key) first; ARGV: each layer's
interval in microseconds, then the booking horizon. Returns {1, wait before sending} or
{0, wait before asking again}, in microseconds."""


class RedisBudget:
    """The shared budget of one app key; ``await budget.acquire(api_id, is_order=...)``
    returns when a request may go."""

    def __init__(
        self,
        redis_url: str,
        limits: RateLimits,
        *,
        scope: str,
        prefix: str = DEFAULT_PREFIX,
        redis_options: Mapping[str, Any] | None = None,
        queries_when_down: Literal["local", "fail"] = "local",
        retry_redis_after: float = 1.0,
    ) -> None:
        if queries_when_down not in ("local", "fail"):
            raise KiwoomValidationError('queries_when_down must be "local" or "fail"')
        self.limits = limits
        self._rates = {
            layer: _fixed_rate(layer, getattr(limits, layer))
            for layer in ("per_key", "per_tr", "orders")
        }
        self.location = redis_location(redis_url)
        self._url = redis_url
        self._options = dict(redis_options or {})
        self._base = f"{prefix}:{scope}:rate"
        self.queries_when_down = queries_when_down
        self.retry_redis_after = retry_redis_after
        self._client: redis.asyncio.Redis | None = None
        self._script: AsyncScript | None = None
        self._down_until = 0.0
        self._local: dict[str, RateLimiter] = {}
        self.grants = 0
        """Grants Redis gave this process."""
        self.local_grants = 0
        """Grants given by the local fallback while Redis was unreachable."""
        self.round_trips = 0

    @classmethod
    def for_key(
        cls, redis_url: str, limits: RateLimits, *, env: str, appkey: str, **options: Any
    ) -> RedisBudget:
        return cls(redis_url, limits, scope=fleet_scope(env, appkey), **options)

    def __repr__(self) -> str:
        return f"<RedisBudget {self.location} {self.limits}>"

    async def aclose(self) -> None:
        client, self._client, self._script = self._client, None, None
        if client is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await client.aclose()

    async def acquire(self, api_id: str, *, is_order: bool) -> None:
        layers = self._layers(api_id, is_order)
        if not layers:
            return
        if time.monotonic() < self._down_until and not is_order:
            await self._acquire_locally(api_id, is_order)
            return
        keys = [key for key, _ in layers]
        intervals = [interval for _, interval in layers]
        horizon = intervals[0]
        while True:
            try:
                granted, wait_us = await self._grant(keys, [*intervals, horizon])
            except REDIS_ERRORS as exc:
                await self._redis_failed(api_id, is_order, exc)
                return
            if self._down_until:
                self._down_until = 0.0
                log.warning("shared budget: Redis at %s is back", self.location)
            if wait_us > 0:
                await asyncio.sleep(wait_us / 1e6)
            if granted:
                self.grants += 1
                return

    def _layers(self, api_id: str, is_order: bool) -> list[tuple[str, int]]:
        rates = self._rates
        layers = [
            (f"{self._base}:key", rates["per_key"]),
            (f"{self._base}:orders", rates["orders"] if is_order else None),
            (f"{self._base}:tr:{api_id}", rates["per_tr"]),
        ]
        margin = self.limits.margin
        return [(key, round((1 + margin) / rate * 1e6)) for key, rate in layers if rate]

    async def _grant(self, keys: list[str], args: list[int]) -> tuple[int, int]:
        if self._client is None or self._script is None:
            self._client = async_client(self._url, self._options)
            self._script = self._client.register_script(_GRANT)
        self.round_trips += 1
        granted, wait_us = await uncancelled(self._script(keys=keys, args=args))
        return int(granted), int(wait_us)

    async def _redis_failed(self, api_id: str, is_order: bool, exc: BaseException) -> None:
        error = unavailable(self.location, f"{api_id}: shared request budget", exc)
        if is_order:
            raise error from None  # fail closed: the order is not sent
        if self.queries_when_down == "fail":
            raise error from None
        if not self._down_until:
            log.warning("%s; queries fall back to this process's own limiter for now", error)
        self._down_until = time.monotonic() + self.retry_redis_after
        await self._acquire_locally(api_id, is_order)

    async def _acquire_locally(self, api_id: str, is_order: bool) -> None:
        rates = self._rates
        for name, rate in (("key", rates["per_key"]), (f"tr:{api_id}", rates["per_tr"])):
            if rate is None:
                continue
            limiter = self._local.get(name)
            if limiter is None:
                limiter = self._local[name] = RateLimiter(rate, margin=self.limits.margin)
            await limiter.acquire()
        self.local_grants += 1


def _fixed_rate(layer: str, rate: object) -> float | None:
    """A layer's rate as a number; a budget the fleet cannot share is refused up front."""
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise KiwoomValidationError(
            f"rate_limits.{layer}={rate!r}: a shared budget needs a fixed positive rate"
        )
    return float(rate)
