"""TokenManager: one access token per app key, shared by REST and realtime.

- ``expires_dt`` is Korea time (UTC+9) wall clock; it is converted to an absolute instant at
  once, so the check is right on a machine in any time zone.
- Refreshed ahead of expiry (``refresh_margin``, at most half the lifetime).
- Single flight: however many callers wait, one au10001 request is in flight per event loop.
- ``invalidate(token)`` clears only the token that failed, so a late failure of an old token
  cannot throw away a fresh one (no refresh herd).
- No lock or session is bound at import or construction: the manager works from any event
  loop. The token request uses a short-lived HTTP session; it runs about once a day.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import msgspec

from . import _codes
from ._env import Env, check_env, rest_base_url
from ._secret import Secret
from .errors import AuthError, KiwoomError, MalformedResponseError, TransportError
from .registry import TOKEN_ISSUE, TOKEN_REVOKE

__all__ = ["KST", "TokenManager", "parse_expires_dt"]

log = logging.getLogger("kiwoom_async.auth")

KST = timezone(timedelta(hours=9), "KST")
_JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}
_FALLBACK_LIFETIME = 3600.0
_REFRESH_RETRY_DELAY = 30.0
"""After a failed refresh of a still-valid token, seconds before the next attempt."""
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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._appkey = Secret(appkey)
        self._secretkey = Secret(secretkey)
        self.env: Env = check_env(env)
        self.base_url = rest_base_url(self.env, base_url)
        self.refresh_margin = refresh_margin
        self.issue_retries = issue_retries
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._clock = clock
        self._current: _Token | None = None
        self._inflight: dict[asyncio.AbstractEventLoop, asyncio.Task[_Token]] = {}
        self._guard = threading.Lock()
        self._closed = False
        self.issued = 0
        """How many tokens this manager has obtained (for monitoring and tests)."""

    def __repr__(self) -> str:
        current = self._current
        if current is None:
            state = "no token"
        else:
            until = datetime.fromtimestamp(current.expires_at, KST).strftime("%Y-%m-%d %H:%M:%S")
            state = f"token valid until {until} KST"
        return f"<TokenManager env={self.env!r} base_url={self.base_url!r} {state}>"

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
            log.debug("token invalidated; the next call issues a new one")

    async def revoke(self) -> None:
        """Revoke the current token (au10002) and forget it."""
        current, self._current = self._current, None
        if current is None:
            return
        payload = self._sealed(token=current.value)
        await self._post(TOKEN_REVOKE.api_id, TOKEN_REVOKE.path, payload)
        log.debug("token revoked")

    async def aclose(self) -> None:
        """Cancel any token request in flight and revoke the token, best effort. No token is
        issued after this."""
        self._closed = True
        with self._guard:
            tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
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
        payload = self._sealed(grant_type="client_credentials")
        try:
            answer = await self._post_with_retries(TOKEN_ISSUE.api_id, TOKEN_ISSUE.path, payload)
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
        value = answer.get("token")
        if not isinstance(value, str) or not value:
            raise MalformedResponseError(TOKEN_ISSUE.api_id, "token missing from the answer")
        now = self._clock()
        expires_at = self._expiry(answer, now)
        lifetime = max(expires_at - now, 0.0)
        token = _Token(value, expires_at, expires_at - min(self.refresh_margin, lifetime / 2))
        self._current = token
        self.issued += 1
        log.debug("token issued, valid for %.0f s", lifetime)
        return token

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

    async def _post_with_retries(self, api_id: str, path: str, payload: Secret) -> dict[str, Any]:
        """Issuing a token is idempotent: transient faults are retried, refusals are not."""
        for attempt in range(1, self.issue_retries + 1):
            try:
                return await self._post(api_id, path, payload)
            except TransportError as exc:
                delay = 0.1 * 2**attempt
                log.info("%s: %s; retry %d in %.1f s", api_id, exc, attempt, delay)
                await asyncio.sleep(delay)
        return await self._post(api_id, path, payload)

    async def _post(self, api_id: str, path: str, payload: Secret) -> dict[str, Any]:
        headers = {**_JSON_HEADERS, "api-id": api_id}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(self.base_url + path, data=payload.reveal(), headers=headers) as resp,
            ):
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            raise TransportError(api_id, "token request timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(api_id, f"token request failed: {type(exc).__name__}") from None
        try:
            answer = _decode(raw)
        except msgspec.DecodeError:
            raise MalformedResponseError(api_id, f"HTTP {status}: body is not JSON") from None
        if not isinstance(answer, dict):
            raise MalformedResponseError(api_id, f"HTTP {status}: body is not a JSON object")
        code = _codes.return_code(answer.get("return_code", 0 if status == 200 else -1))
        if status != 200 or code != 0:
            message = self._scrub(str(answer.get("return_msg", "")))
            raise AuthError(
                api_id, code, message, detail_code=_codes.detail_code(message), http_status=status
            )
        return answer

    def _scrub(self, text: str) -> str:
        for secret in (self._appkey, self._secretkey):
            text = text.replace(secret.reveal(), "***")
        return text
