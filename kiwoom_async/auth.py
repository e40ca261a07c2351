"""TokenManager: one access token per app key, shared by REST and realtime.

- ``expires_dt`` is Korea time (UTC+9) wall clock; it is converted to an absolute instant at
  once, so the check is right on a machine in any time zone.
- Refreshed ahead of expiry (``refresh_margin``, at most half the lifetime).
- Single flight: however many callers wait, one au10001 request is in flight per event loop.
- ``invalidate(token)`` clears only the token that failed, so a late failure of an old token
  cannot throw away a fresh one (no refresh herd).
- No lock or session is bound at import or construction: the manager works from any event
  loop. The token request uses a short-lived HTTP session; it runs about once a day.
- Clock skew: a token whose ``expires_dt`` is (nearly) past by this machine's clock is timed
  from the server's ``Date`` header instead, or given ``MIN_TOKEN_LIFETIME``; the server's own
  token error then invalidates it. Without this a slow clock would ask for a token per call.
- A budget (``issue_budget``: at most N token requests in a sliding window) bounds what any
  server answer, clock or bug can make the manager send to au10001.
- Shared across processes (``redis_url=``, or any ``token_store=``): the store decides who
  issues; this manager keeps a local copy, tells the store which token the server refused, and
  on close leaves the shared token alone (other processes use it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, Protocol, cast

import aiohttp
import msgspec

from . import _codes
from ._env import Env, check_env, rest_base_url
from ._kst import KST
from ._secret import Secret
from .errors import (
    AuthError,
    KiwoomError,
    MalformedResponseError,
    TokenBudgetError,
    TransportError,
)
from .registry import TOKEN_ISSUE, TOKEN_REVOKE

__all__ = [
    "KST",
    "MIN_TOKEN_LIFETIME",
    "StoredToken",
    "TokenManager",
    "TokenStore",
    "key_fingerprint",
    "parse_expires_dt",
    "token_digest",
]

log = logging.getLogger("kiwoom_async.auth")

_JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}
_FALLBACK_LIFETIME = 3600.0
_REFRESH_RETRY_DELAY = 30.0
"""After a failed refresh of a still-valid token, seconds before the next attempt."""
MIN_TOKEN_LIFETIME = 60.0
"""A token is trusted for at least this long, whatever its ``expires_dt`` says by a skewed
clock; a server that has really expired it says so with a token error."""
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def parse_expires_dt(text: str) -> float:
    """``"20251109235445"`` (Korea time) -> POSIX timestamp."""
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=KST).timestamp()


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float
    refresh_at: float

    def __repr__(self) -> str:
        return f"_Token(expires_at={self.expires_at})"


def key_fingerprint(env: str, appkey: str) -> str:
    """A name for (environment, app key) that does not reveal the key: a keyed BLAKE2b digest,
    32 hex characters. Processes on one key meet under it in shared stores (Redis)."""
    if not isinstance(appkey, str) or not appkey:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError("appkey must be a non-empty string")
    digest = hashlib.blake2b(
        appkey.encode(),
        key=b"kiwoom-async fleet scope v1",
        person=env.encode()[:16],
        digest_size=16,
    )
    return digest.hexdigest()


def token_digest(token: str) -> str:
    """A name for a token that does not reveal it (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


class StoredToken(NamedTuple):
    """A token as a :class:`TokenStore` keeps it: times are durations, so hosts with
    different clocks agree on them."""

    value: str
    remaining: float
    """Seconds of validity left."""
    lifetime: float
    """Seconds it was valid for when issued (the refresh margin is at most half of it)."""

    def __repr__(self) -> str:
        return f"StoredToken(remaining={self.remaining:.0f}, lifetime={self.lifetime:.0f})"


class TokenStore(Protocol):
    """Where processes sharing an app key find its token (``kiwoom_async.fleet`` keeps it in
    Redis). ``obtain`` returns a token that is neither ``refused`` nor due for refresh
    (``refresh_margin``), calling ``issue`` to get a new one only when no process has: one
    issuance however many processes ask. ``refused`` is the :func:`token_digest` of a token
    the server refused (a digest, so that no token sits in a traceback's locals)."""

    async def obtain(
        self,
        issue: Callable[[], Awaitable[StoredToken]],
        *,
        refused: str | None,
        refresh_margin: float,
    ) -> StoredToken: ...

    async def discard(self, token: str) -> None:
        """Forget ``token`` if it is still the shared one (it was revoked)."""

    async def aclose(self) -> None: ...


class _Answer(NamedTuple):
    body: dict[str, Any]
    server_time: float | None
    """The server's clock (its ``Date`` header) when it answered, if it sent one."""


def _server_time(date_header: str | None) -> float | None:
    if not date_header:
        return None
    try:
        return parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class TokenManager:
    """Issues, caches, refreshes and revokes the access token of one app key."""

    def __init__(
        self,
        appkey: str,
        secretkey: str,
        *,
        env: str = "mock",
        base_url: str | None = None,
        refresh_margin: float = 600.0,
        timeout: float = 10.0,
        issue_retries: int = 3,
        issue_budget: tuple[int, float] | None = (10, 300.0),
        clock: Callable[[], float] = time.time,
        token_store: TokenStore | None = None,
        redis_url: str | None = None,
        redis_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._appkey = Secret(appkey)
        self._secretkey = Secret(secretkey)
        self.env: Env = check_env(env)
        self.base_url = rest_base_url(self.env, base_url)
        self.refresh_margin = refresh_margin
        self.issue_retries = issue_retries
        self.issue_budget = issue_budget
        """(N, seconds): at most N token requests (retries included) in any such window;
        None: no limit."""
        self._requests_sent: deque[float] = deque()
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._clock = clock
        self._current: _Token | None = None
        self._inflight: dict[asyncio.AbstractEventLoop, asyncio.Task[_Token]] = {}
        self._guard = threading.Lock()
        self._closed = False
        self.issued = 0
        """How many tokens this manager has obtained (for monitoring and tests)."""
        if token_store is None and redis_url is not None:
            from .fleet.token import RedisTokenStore  # only in fleet mode: redis is optional

            token_store = RedisTokenStore(
                redis_url, scope=self.fingerprint, redis_options=redis_options
            )
        self.store = token_store
        """Where the token is shared with other processes; None: this manager alone."""
        self._refused: str | None = None

    def __repr__(self) -> str:
        current = self._current
        if current is None:
            state = "no token"
        else:
            until = datetime.fromtimestamp(current.expires_at, KST).strftime("%Y-%m-%d %H:%M:%S")
            state = f"token valid until {until} KST"
        return f"<TokenManager env={self.env!r} base_url={self.base_url!r} {state}>"

    @property
    def fingerprint(self) -> str:
        """:func:`key_fingerprint` of this manager's environment and app key."""
        return key_fingerprint(self.env, self._appkey.reveal())

    @property
    def expires_at(self) -> datetime | None:
        current = self._current
        return None if current is None else datetime.fromtimestamp(current.expires_at, KST)

    async def token(self) -> str:
        """A valid token: the cached one, or a new one when it is missing or due."""
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        if self._closed:
            raise KiwoomError("this TokenManager is closed")
        return (await self._refresh()).value

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the current one; a newer token is kept."""
        current = self._current
        if current is not None and current.value == token:
            self._current = None
            self._refused = token_digest(token)  # the shared store hears of it on the next obtain
            log.debug("token invalidated; the next call issues a new one")

    async def revoke(self) -> None:
        """Revoke the current token (au10002) and forget it."""
        current, self._current = self._current, None
        if current is None:
            return
        payload = self._sealed(token=current.value)
        await self._post(TOKEN_REVOKE.api_id, TOKEN_REVOKE.path, payload)
        log.debug("token revoked")
        if self.store is not None:
            await self.store.discard(current.value)

    async def aclose(self) -> None:
        """Cancel any token request in flight and revoke the token, best effort. No token is
        issued after this. A shared token (``token_store``) is not revoked: other processes
        use it."""
        self._closed = True
        with self._guard:
            tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if self.store is not None:
            self._current = None
            await self.store.aclose()
            return
        try:
            await self.revoke()
        except KiwoomError as exc:
            log.warning("token revoke failed: %s", exc)

    async def __aenter__(self) -> TokenManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- internals -----------------------------------------------------------------------

    async def _refresh(self) -> _Token:
        loop = asyncio.get_running_loop()
        with self._guard:
            task = self._inflight.get(loop)
            if task is None:
                current = self._current
                if current is not None and self._clock() < current.refresh_at:
                    return current
                task = loop.create_task(self._issue(previous=current))
                self._inflight[loop] = task
                task.add_done_callback(lambda _t: self._forget_inflight(loop))
        # One caller being cancelled must not cancel the request the others wait for.
        return await asyncio.shield(task)

    def _forget_inflight(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._guard:
            self._inflight.pop(loop, None)

    async def _issue(self, previous: _Token | None) -> _Token:
        try:
            if self.store is None:
                token = await self._request_token()
            else:
                token = await self._from_store()
        except KiwoomError:
            # A token that is due but not yet expired still works: keep serving it, and try
            # the refresh again later rather than on every call.
            now = self._clock()
            if previous is not None and now < previous.expires_at:
                log.warning("token refresh failed; the current token is used until it expires")
                retry_at = min(previous.expires_at, now + _REFRESH_RETRY_DELAY)
                self._current = dataclasses.replace(previous, refresh_at=retry_at)
                return self._current
            raise
        self._current = token
        return token

    async def _from_store(self) -> _Token:
        assert self.store is not None
        shared = await self.store.obtain(
            self._issue_for_store, refused=self._refused, refresh_margin=self.refresh_margin
        )
        self._refused = None
        expires_at = self._clock() + shared.remaining
        margin = min(self.refresh_margin, shared.lifetime / 2)
        return _Token(shared.value, expires_at, expires_at - margin)

    async def _issue_for_store(self) -> StoredToken:
        token = await self._request_token()
        lifetime = token.expires_at - self._clock()
        return StoredToken(token.value, lifetime, lifetime)

    async def _request_token(self) -> _Token:
        """Ask au10001 for a new token."""
        payload = self._sealed(grant_type="client_credentials")
        answer = await self._post_with_retries(TOKEN_ISSUE.api_id, TOKEN_ISSUE.path, payload)
        value = answer.body.get("token")
        if not isinstance(value, str) or not value:
            raise MalformedResponseError(TOKEN_ISSUE.api_id, "token missing from the answer")
        now = self._clock()
        expires_at = self._unskewed(self._expiry(answer.body, now), now, answer.server_time)
        lifetime = expires_at - now
        token = _Token(value, expires_at, expires_at - min(self.refresh_margin, lifetime / 2))
        self.issued += 1
        log.debug("token issued, valid for %.0f s", lifetime)
        return token

    @staticmethod
    def _unskewed(expires_at: float, now: float, server_time: float | None) -> float:
        """The expiry on this machine's clock, for a token the server has just issued: one
        that looks (nearly) expired already says more about the clocks than about the token."""
        if expires_at - now >= MIN_TOKEN_LIFETIME:
            return expires_at
        if server_time is not None and expires_at - server_time >= MIN_TOKEN_LIFETIME:
            log.warning(
                "this machine's clock is %.0f s off the token server's; timing the token "
                "from the server's clock",
                now - server_time,
            )
            return now + (expires_at - server_time)
        log.warning(
            "the new token expires in %.0f s by this machine's clock; trusting it for %.0f s "
            "(a token error from the server ends it sooner)",
            expires_at - now,
            MIN_TOKEN_LIFETIME,
        )
        return now + MIN_TOKEN_LIFETIME

    def _spend_budget(self, api_id: str) -> None:
        """Count one token request, or refuse it when the budget is spent."""
        if self.issue_budget is None:
            return
        limit, window = self.issue_budget
        now = self._clock()
        sent = self._requests_sent
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) >= limit:
            retry_at = sent[0] + window
            raise TokenBudgetError(
                f"{api_id}: {limit} token requests in the last {window:.0f} s, the budget "
                f"(TokenManager issue_budget); not asking again for {retry_at - now:.0f} s",
                retry_at=retry_at,
            )
        sent.append(now)

    def _expiry(self, answer: dict[str, Any], now: float) -> float:
        expires_dt = answer.get("expires_dt")
        if isinstance(expires_dt, str):
            try:
                return parse_expires_dt(expires_dt)
            except ValueError:
                log.warning("unreadable expires_dt %r", expires_dt)
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, int | float | str):
            try:
                return now + float(expires_in)
            except ValueError:
                pass
        log.warning("token answer has no expiry; assuming %.0f s", _FALLBACK_LIFETIME)
        return now + _FALLBACK_LIFETIME

    def _sealed(self, **fields: str) -> Secret:
        """The JSON body of a token request, sealed: it holds the keys, so it must never
        sit in a traceback's locals as plain text."""
        body = {"appkey": self._appkey.reveal(), "secretkey": self._secretkey.reveal(), **fields}
        return Secret(_encode(body).decode())

    async def _post_with_retries(self, api_id: str, path: str, payload: Secret) -> _Answer:
        """Issuing a token is idempotent: transient faults are retried, refusals are not."""
        for attempt in range(1, self.issue_retries + 1):
            try:
                self._spend_budget(api_id)
                return await self._post(api_id, path, payload)
            except TransportError as exc:
                delay = 0.1 * 2**attempt
                log.info("%s: %s; retry %d in %.1f s", api_id, exc, attempt, delay)
                await asyncio.sleep(delay)
        self._spend_budget(api_id)
        return await self._post(api_id, path, payload)

    async def _post(self, api_id: str, path: str, payload: Secret) -> _Answer:
        headers = {**_JSON_HEADERS, "api-id": api_id}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(self.base_url + path, data=payload.reveal(), headers=headers) as resp,
            ):
                status = resp.status
                date = resp.headers.get("Date")
                raw = await resp.read()
        except TimeoutError:
            raise TransportError(api_id, "token request timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(api_id, f"token request failed: {type(exc).__name__}") from None
        answer = self._accepted(api_id, status, raw)
        if answer is None:
            # A refusal may echo the keys: this frame lets go of the body before raising, so
            # no traceback that captures locals (error trackers do) holds them.
            refusal = self._refusal(api_id, status, raw)
            del raw
            raise refusal
        return _Answer(answer, _server_time(date))

    @staticmethod
    def _accepted(api_id: str, status: int, raw: bytes) -> dict[str, Any] | None:
        """The answer body when the server accepted the request, else None."""
        try:
            answer = _decode(raw)
        except msgspec.DecodeError:
            return None
        if not isinstance(answer, dict) or status != 200:
            return None
        accepted = cast("dict[str, Any]", answer)
        return accepted if _codes.return_code(accepted.get("return_code", 0)) == 0 else None

    def _refusal(self, api_id: str, status: int, raw: bytes) -> KiwoomError:
        """The error for an answer that was not an acceptance; it holds no key."""
        try:
            answer = _decode(raw)
        except msgspec.DecodeError:
            return MalformedResponseError(api_id, f"HTTP {status}: body is not JSON")
        if not isinstance(answer, dict):
            return MalformedResponseError(api_id, f"HTTP {status}: body is not a JSON object")
        fields = cast("dict[str, Any]", answer)
        code = _codes.return_code(fields.get("return_code", 0 if status == 200 else -1))
        message = self._scrub(str(fields.get("return_msg", "")))
        return AuthError(
            api_id, code, message, detail_code=_codes.detail_code(message), http_status=status
        )

    def _scrub(self, text: str) -> str:
        for secret in (self._appkey, self._secretkey):
            text = text.replace(secret.reveal(), "***")
        return text
