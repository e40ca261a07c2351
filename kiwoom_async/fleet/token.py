"""One token per app key for every process of the fleet, kept in Redis.

- ``{prefix}:{scope}:token`` is a hash (``value``, ``digest``, ``lifetime``) whose Redis TTL
  is the token's remaining validity, so it disappears when the token expires and every host
  reads the same remaining time whatever its own clock says.
- Single flight across processes: a process that finds no usable token takes
  ``{prefix}:{scope}:token:lock`` (a random value with a lease, renewed while the request
  runs), reads again, and only then asks au10001. The others poll until the token appears or
  the lock is gone (its holder died: its lease runs out and the next one takes over).
- The token is written only while the writer still holds the lock (fencing), and a refused
  token is cleared only if it is still the stored one (compare-and-clear by digest), so a late
  error about an old token cannot throw away the new one.
- Redis down: a process with a token still valid keeps using it (``TokenManager`` retries the
  refresh later); one without raises :class:`FleetUnavailableError`. No process falls back to
  issuing on its own: where a new token revokes the old one, processes doing so would keep
  revoking each other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio

from .._secret import Secret
from ..auth import StoredToken, token_digest
from ._connect import (
    DEFAULT_PREFIX,
    REDIS_ERRORS,
    async_client,
    fleet_scope,
    redis_location,
    unavailable,
    uncancelled,
)
from ._errors import FleetUnavailableError

__all__ = ["RedisTokenStore"]

log = logging.getLogger("kiwoom_async.fleet")

_READ = """
local v = redis.call('HMGET', KEYS[1], 'value', 'digest', 'lifetime')
if not v[1] then return false end
return {v[1], v[2], v[3], redis.call('PTTL', KEYS[1])}
"""
_CLEAR_IF = """
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Taking the lock again with our own value succeeds: a retried command whose first reply was
# lost must not lock us out until the lease runs out.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'value', ARGV[2], 'digest', ARGV[3], 'lifetime', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""


class RedisTokenStore:
    """The shared token of one app key (a :class:`~kiwoom_async.auth.TokenStore`).

    ``lease``: seconds the issuing lock lives without renewal (a dead holder blocks the others
    this long); ``wait``: how long a process waits for another's issuance before giving up;
    ``poll``: seconds between looks while waiting.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        scope: str,
        prefix: str = DEFAULT_PREFIX,
        redis_options: Mapping[str, Any] | None = None,
        lease: float = 10.0,
        wait: float = 60.0,
        poll: float = 0.02,
    ) -> None:
        self.location = redis_location(redis_url)
        self._url = redis_url
        self._options = dict(redis_options or {})
        self.token_key = f"{prefix}:{scope}:token"
        self.lock_key = f"{self.token_key}:lock"
        self.lease = lease
        self.wait = wait
        self.poll = poll
        self._client: redis.asyncio.Redis | None = None
        self.issued = 0
        """Tokens this process issued for the fleet."""
        self.waited = 0
        """Times this process waited for another's issuance."""

    @classmethod
    def for_key(cls, redis_url: str, *, env: str, appkey: str, **options: Any) -> RedisTokenStore:
        """The store of ``appkey`` in ``env``, filed under its fingerprint."""
        return cls(redis_url, scope=fleet_scope(env, appkey), **options)

    def __repr__(self) -> str:
        return f"<RedisTokenStore {self.location} key={self.token_key!r}>"

    def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            self._client = async_client(self._url, self._options)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await client.aclose()

    # --- the TokenStore protocol -----------------------------------------------------------

    async def obtain(
        self,
        issue: Callable[[], Awaitable[StoredToken]],
        *,
        refused: str | None,
        refresh_margin: float,
    ) -> StoredToken:
        try:
            return await self._obtain(issue, refused, refresh_margin)
        except REDIS_ERRORS as exc:
            raise unavailable(self.location, "shared token", exc) from None

    async def discard(self, token: str) -> None:
        try:
            await self._eval(_CLEAR_IF, [self.token_key], token_digest(token))
        except REDIS_ERRORS as exc:
            log.warning("%s", unavailable(self.location, "clearing the revoked token", exc))

    # --- internals -------------------------------------------------------------------------

    async def _obtain(
        self,
        issue: Callable[[], Awaitable[StoredToken]],
        refused: str | None,
        refresh_margin: float,
    ) -> StoredToken:
        deadline = time.monotonic() + self.wait
        while True:
            shared = await self._read(refused, refresh_margin)
            if shared is not None:
                return shared
            holder = secrets.token_hex(16)
            if await self._eval(_ACQUIRE, [self.lock_key], holder, self._lease_ms()):
                try:
                    return await self._issue_holding(holder, issue, refused, refresh_margin)
                finally:
                    with contextlib.suppress(*REDIS_ERRORS):
                        await self._eval(_RELEASE, [self.lock_key], holder)
            self.waited += 1
            if time.monotonic() > deadline:
                raise FleetUnavailableError(
                    f"shared token: another process has held the issuing lock for over "
                    f"{self.wait:.0f} s at {self.location}; giving up"
                )
            await asyncio.sleep(self.poll)

    async def _issue_holding(
        self,
        holder: str,
        issue: Callable[[], Awaitable[StoredToken]],
        refused: str | None,
        refresh_margin: float,
    ) -> StoredToken:
        # Someone may have stored a token between our read and our lock.
        shared = await self._read(refused, refresh_margin)
        if shared is not None:
            return shared
        if refused is not None:
            await self._eval(_CLEAR_IF, [self.token_key], refused)
        async with self._lease_kept(holder):
            fresh = await issue()
        self.issued += 1
        stored = await self._eval(
            _PUBLISH,
            [self.lock_key, self.token_key],
            holder,
            Secret(fresh.value),
            token_digest(fresh.value),
            repr(fresh.lifetime),
            max(1, int(fresh.remaining * 1000)),
        )
        if not stored:
            log.warning("shared token: the issuing lock was lost; the new token is not shared")
        return fresh

    async def _read(self, refused: str | None, refresh_margin: float) -> StoredToken | None:
        """The stored token, unless it is the refused one or due for refresh."""
        row = await self._eval(_READ, [self.token_key])
        if not row:
            return None
        value, digest, lifetime_text, pttl = row
        if digest.decode() == refused or int(pttl) <= 0:
            return None
        lifetime = float(lifetime_text)
        remaining = int(pttl) / 1000
        if remaining <= min(refresh_margin, lifetime / 2):
            return None
        return StoredToken(value.decode(), remaining, lifetime)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, holder: str) -> AsyncGenerator[None, None]:
        """Renew the lock while the token request runs (it may retry for tens of seconds)."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease / 3)
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._eval(_RENEW, [self.lock_key], holder, self._lease_ms())

        task = asyncio.get_running_loop().create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))

    async def _eval(self, script: str, keys: list[str], *args: str | int | Secret) -> Any:
        # A token travels sealed up to this call, so that no caller's frame holds it.
        plain = [arg.reveal() if isinstance(arg, Secret) else arg for arg in args]
        return await uncancelled(self._redis().eval(script, len(keys), *keys, *plain))
