"""Redis connections of the fleet: the scope every key is filed under, the clients, and the
translation of Redis errors into :class:`FleetUnavailableError` with nothing secret in it.

Key names are ``{prefix}:{scope}:...`` where ``scope`` is a keyed BLAKE2b digest of the
environment and the app key: processes on the same key and environment meet under the same
names, and nothing in a key name reveals the key. The secret key is left out on purpose: a
rotated secret must not move the ledger to fresh, empty names (that would free every
idempotency key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import redis.asyncio
import redis.exceptions

from ..auth import key_fingerprint
from ._errors import FleetUnavailableError

__all__ = [
    "DEFAULT_PREFIX",
    "REDIS_ERRORS",
    "async_client",
    "fleet_scope",
    "redis_location",
    "sync_client",
    "unavailable",
    "uncancelled",
]

_T = TypeVar("_T")

DEFAULT_PREFIX = "kiwoom"
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 3.0}

REDIS_ERRORS = (redis.exceptions.RedisError, OSError)
"""What a Redis call raises when the server is down, restarting, refuses us or times out."""


def fleet_scope(env: str, appkey: str) -> str:
    """The name under which one app key's shared state lives in Redis: a keyed digest of
    (environment, app key), 32 hex characters (:func:`kiwoom_async.auth.key_fingerprint`)."""
    return key_fingerprint(env, appkey)


def redis_location(url: str) -> str:
    """``scheme://host:port/db`` of a Redis URL, without user name or password: what errors
    and logs may show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 6379
    except ValueError:
        return "redis (unparsable URL)"
    return f"{parts.scheme}://{host}:{port}{parts.path or '/0'}"


def async_client(url: str, options: Mapping[str, Any] | None = None) -> redis.asyncio.Redis:
    """An asyncio client for ``url`` (redis://, rediss:// for TLS, unix://; user name and
    password in the URL). ``options`` go to redis-py as they are (``ssl_ca_certs``,
    ``username``, ``password``, timeouts...)."""
    return redis.asyncio.Redis.from_url(url, **{**_TIMEOUTS, **(options or {})})  # pyright: ignore[reportUnknownMemberType]


def sync_client(url: str, options: Mapping[str, Any] | None = None) -> redis.Redis:
    """A blocking client for ``url``, for the ledger (which runs in worker threads)."""
    return redis.Redis.from_url(url, **{**_TIMEOUTS, **(options or {})})  # pyright: ignore[reportUnknownMemberType]


def unavailable(
    location: str, what: str, exc: BaseException, cls: type[FleetUnavailableError] | None = None
) -> FleetUnavailableError:
    """The error to raise, ``from None``, when a Redis call failed: it names the server and
    the kind of failure, never the URL's password (redis-py's own message may carry it)."""
    kind = type(exc).__name__
    if isinstance(exc, redis.exceptions.AuthenticationError | redis.exceptions.NoPermissionError):
        reason = f"Redis refused the credentials or the ACL ({kind})"
    elif isinstance(exc, redis.exceptions.TimeoutError | TimeoutError):
        reason = f"Redis did not answer in time ({kind})"
    else:
        reason = f"Redis is unreachable or failed ({kind})"
    return (cls or FleetUnavailableError)(f"{what}: {reason} at {location}")


async def uncancelled(command: Awaitable[_T]) -> _T:
    """Await a redis-py command so that cancelling the caller never cancels the command
    between its request and its reply: redis-py can then hang the cancellation for the socket
    timeout or longer. The command runs to its end on its own (milliseconds); the caller's
    cancellation goes through at once."""
    task = asyncio.ensure_future(command)
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # an abandoned command's error is not worth a warning
