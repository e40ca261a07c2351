"""RestSession: every TR call goes through one engine here.

One aiohttp session for the session's lifetime; request building, client-side budgets, the
one retry policy and the one error mapping (``_codes.classify``) live in ``_execute``.
Typed wrappers and pagination are thin layers on top of :meth:`RestSession.call`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, overload

import aiohttp
import msgspec
from yarl import URL

from . import _codes, _decide
from ._env import rest_base_url
from ._flights import Flight, Flights
from ._secret import Secret
from .auth import TokenManager
from .errors import (
    KiwoomValidationError,
    OrderStatusUnknownError,
    RateLimitError,
    RealOrderNotAllowedError,
    SessionClosedError,
)
from .models._convert import UnknownFields
from .ratelimit import RateFeedback, RateLimiter, RateLimits
from .registry import TRSpec, lookup
from .retry import RetryPolicy

__all__ = ["Pager", "Response", "RestSession"]

log = logging.getLogger("kiwoom_async.rest")

_CONTENT_TYPE = "application/json;charset=UTF-8"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_Outcome = _codes.Outcome


@dataclass(slots=True)
class Response:
    """One TR answer: the raw body and the continuation headers."""

    api_id: str
    body: dict[str, Any]
    return_code: int
    return_msg: str
    cont_yn: bool
    """True when the server has another page (response header ``cont-yn: Y``)."""
    next_key: str
    """The response header ``next-key``: send it back to get the next page."""
    http_status: int = 200
    retries_taken: int = 0


@dataclass
class RestStats:
    """Counters of one RestSession."""

    unknown: UnknownFields = field(default_factory=UnknownFields)

    @property
    def unknown_fields(self) -> Counter[tuple[str, str]]:
        """(api_id, key) -> how many answers carried a key the TR's typed model does not know
        (row keys read ``list_key[].key``). The values stay in ``.raw``; each key is also
        logged once at WARNING, so a change on the server's side shows the day it happens."""
        return self.unknown.counts


class SharedBudget(Protocol):
    """A request budget kept outside the process (``kiwoom_async.fleet.budget.RedisBudget``):
    ``acquire`` returns when the request may go, or raises when it must not (nothing sent)."""

    async def acquire(self, api_id: str, *, is_order: bool) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Prepared:
    spec: TRSpec
    body: Mapping[str, Any]
    payload: bytes
    url: URL


@dataclass(slots=True)
class _Fault:
    """A request that got no usable answer."""

    reason: str
    may_have_been_sent: bool
    timed_out: bool = False


class RestSession:
    """Concurrent TR calls over one keep-alive connection pool.

    ``rate_limits=None`` uses the environment's defaults (:meth:`RateLimits.default_for`);
    ``RateLimits()`` turns client-side limiting off. ``redis_url`` (or any ``budget=``)
    enforces those budgets for every process on the app key together
    (:mod:`kiwoom_async.fleet.budget`).
    """

    def __init__(
        self,
        token_manager: TokenManager,
        *,
        base_url: str | None = None,
        rate_limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        connection_limit: int = 100,
        http_session: aiohttp.ClientSession | None = None,
        allow_real_orders: bool = False,
        budget: SharedBudget | None = None,
        redis_url: str | None = None,
        redis_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.tokens = token_manager
        self.allow_real_orders = allow_real_orders
        """Order TRs on env="real" are refused locally unless this is True."""
        self.base_url = rest_base_url(token_manager.env, base_url or token_manager.base_url)
        self.rate_limits = rate_limits or RateLimits.default_for(token_manager.env)
        self.retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._connection_limit = connection_limit
        self._http = http_session
        self._owns_http = http_session is None
        self._urls: dict[str, URL] = {}
        self._key_limiter = self.rate_limits.key_limiter(token_manager.env)
        # An adaptive budget (per_key="auto") learns from every answer.
        self._feedback: RateFeedback | None = (
            self._key_limiter if isinstance(self._key_limiter, RateFeedback) else None
        )
        self._order_limiter = self.rate_limits.limiter(self.rate_limits.orders)
        self._tr_limiters: dict[str, RateLimiter] = {}
        if budget is None and redis_url is not None:
            from .fleet.budget import RedisBudget  # only in fleet mode: redis is optional

            budget = RedisBudget(
                redis_url,
                self.rate_limits,
                scope=token_manager.fingerprint,
                redis_options=redis_options,
            )
        self.budget = budget
        """The request budget shared with other processes; None: this session's own."""
        self._closed = False
        self.stats = RestStats()
        self._flights = Flights()
        # Orders go through a pool of their own with aiohttp tracing, which tells when a
        # request got its connection (before that, nothing left). Tracing costs every request
        # a round of signal calls, so queries, which need no such line, do without. A pool the
        # caller handed in serves both, untraced: its orders count as leaving when made.
        self._order_http: aiohttp.ClientSession | None = None
        self._traced = http_session is None

    def __repr__(self) -> str:
        return f"<RestSession base_url={self.base_url!r} env={self.tokens.env!r}>"

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> RestSession:
        self._session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the calls in flight, then close the connection pool (only if this session
        created it). Idempotent.

        Queries and orders that have no connection yet raise :class:`SessionClosedError`
        (such an order was not sent). Orders that hold a connection may be on the wire: they
        get up to the request timeout to receive their answer, and raise
        :class:`OrderStatusUnknownError` if they are interrupted after all."""
        self._closed = True
        await self._flights.land(grace=self._timeout.total or 10.0)
        if self.budget is not None:
            await self.budget.aclose()
        http, self._http = self._http, None
        orders, self._order_http = self._order_http, None
        if self._owns_http:
            for pool in (http, orders):
                if pool is not None:
                    await pool.close()

    def _session(self, for_orders: bool = False) -> aiohttp.ClientSession:
        if self._closed:
            raise SessionClosedError("", "this RestSession is closed; nothing was sent")
        if self._http is None:
            self._http = self._new_pool(traced=False)
        if not for_orders or not self._traced:
            return self._http
        if self._order_http is None:
            self._order_http = self._new_pool(traced=True)
        return self._order_http

    def _new_pool(self, *, traced: bool) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._connection_limit),
            trace_configs=[self._flights.trace_config()] if traced else None,
            # Kiwoom sets no cookies; skipping the jar saves work on every call.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    # --- public calls ------------------------------------------------------------------

    async def call(
        self,
        api_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        cont_yn: bool | str = False,
        next_key: str = "",
        timeout: float | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> Response:
        """Call any TR by id. Raises before sending on an unknown id or a body that is not a
        JSON object; raises :class:`~kiwoom_async.errors.APIError` and its family on a
        non-zero ``return_code``. ``on_send`` is called just before a request may leave the
        machine (the order ledger uses it to tell "never sent" from "maybe sent")."""
        prepared = self._prepare(api_id, body)
        more = cont_yn is True or (isinstance(cont_yn, str) and cont_yn.upper() == "Y")
        if prepared.spec.is_order and (more or next_key):
            raise KiwoomValidationError(f"{api_id} is an order: it has no next page to ask for")
        return await self._execute(prepared, more, next_key, timeout, on_send)

    def paginate(
        self,
        api_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
        next_key: str = "",
    ) -> Pager:
        """Every page of a TR, following the ``cont-yn``/``next-key`` response headers.

        ``async for page in session.paginate(...)`` fetches pages as you go; ``await`` gives
        the list. Start from a saved ``next_key`` to resume an earlier walk.
        """
        prepared = self._prepare(api_id, body)
        if prepared.spec.is_order:
            # Each page repeats the request: for an order that would place it again.
            raise KiwoomValidationError(f"{api_id} is an order: orders are never paginated")
        if max_pages is not None and max_pages < 1:
            raise KiwoomValidationError("max_pages must be at least 1")
        return Pager(self, prepared, max_pages, next_key)

    @overload
    async def call_many(
        self,
        calls: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> list[Response]: ...

    @overload
    async def call_many(
        self,
        calls: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> list[Response | Exception]: ...

    async def call_many(
        self,
        calls: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        concurrency: int = 8,
        return_exceptions: bool = False,
    ) -> list[Response] | list[Response | Exception]:
        """Run many ``(api_id, body)`` calls at most ``concurrency`` at a time; results come
        back in input order. Every input is checked before the first request is sent. With
        ``return_exceptions=False`` the first error cancels the calls still running and is
        raised. A batch holding an order never cancels a call in flight (that would leave
        an order in an unknown state): every call runs to its end, then the first error is
        raised."""
        if concurrency < 1:
            raise KiwoomValidationError("concurrency must be at least 1")
        prepared = [self._prepare(api_id, body) for api_id, body in calls]
        results: list[Response | Exception | None] = [None] * len(prepared)
        gate = asyncio.Semaphore(concurrency)
        collect = return_exceptions or any(item.spec.is_order for item in prepared)

        async def run(index: int, item: _Prepared) -> None:
            async with gate:
                try:
                    results[index] = await self._execute(item, False, "", None)
                except Exception as exc:
                    if not collect:
                        raise
                    results[index] = exc

        try:
            async with asyncio.TaskGroup() as group:
                for index, item in enumerate(prepared):
                    group.create_task(run(index, item))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if not return_exceptions:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results  # type: ignore[return-value]

    # --- the engine --------------------------------------------------------------------

    def _prepare(self, api_id: str, body: Mapping[str, Any] | None) -> _Prepared:
        spec = lookup(api_id)
        if spec.category == "auth":
            raise KiwoomValidationError(f"{api_id} is a token TR: use TokenManager")
        if spec.is_order:
            self.check_order_allowed(api_id)
        if body is None:
            body = {}
        elif not isinstance(body, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KiwoomValidationError(
                f"{api_id}: body must be a dict of request fields, not {type(body).__name__}"
            )
        try:
            payload = _encode(body)
        except (TypeError, ValueError) as exc:
            raise KiwoomValidationError(f"{api_id}: body is not JSON-serialisable: {exc}") from None
        url = self._urls.get(spec.path)
        if url is None:
            url = self._urls[spec.path] = URL(self.base_url + spec.path)
        return _Prepared(spec, body, payload, url)

    def check_order_allowed(self, api_id: str) -> None:
        """Raise :class:`RealOrderNotAllowedError` for an order on env="real" without
        ``allow_real_orders``: the one place the real-money rule lives."""
        if self.tokens.env == "real" and not self.allow_real_orders:
            raise RealOrderNotAllowedError(
                f"{api_id}: real-money orders are off; build the client with "
                "allow_real_orders=True to send them. Nothing was sent."
            )

    async def _acquire(self, spec: TRSpec) -> None:
        if self.budget is not None:
            await self.budget.acquire(spec.api_id, is_order=spec.is_order)
            return
        if self._key_limiter is not None:
            await self._key_limiter.acquire()
        if spec.is_order and self._order_limiter is not None:
            await self._order_limiter.acquire()
        per_tr = self.rate_limits.per_tr
        if per_tr is not None:
            limiter = self._tr_limiters.get(spec.api_id)
            if limiter is None:
                limiter = self._tr_limiters[spec.api_id] = RateLimiter(
                    per_tr, burst=self.rate_limits.burst, margin=self.rate_limits.margin
                )
            await limiter.acquire()

    async def _execute(
        self,
        prepared: _Prepared,
        cont_yn: bool,
        next_key: str,
        timeout: float | None,
        on_send: Callable[[], None] | None = None,
    ) -> Response:
        api_id = prepared.spec.api_id
        if self._closed:
            raise SessionClosedError(api_id, "this RestSession is closed; nothing was sent")
        with self._flights.track(prepared.spec.is_order, on_send) as flight:
            try:
                return await self._attempts(prepared, cont_yn, next_key, timeout, flight)
            except asyncio.CancelledError:
                if not flight.interrupted_by_close():
                    raise  # the caller's own cancellation
                if flight.is_order and flight.on_wire:
                    cause = "the client was closed while the order was sent"
                    raise OrderStatusUnknownError(api_id, prepared.body, cause) from None
                what = "the order was not sent" if flight.is_order else "the call did not complete"
                raise SessionClosedError(api_id, f"the client was closed; {what}") from None

    async def _attempts(
        self,
        prepared: _Prepared,
        cont_yn: bool,
        next_key: str,
        timeout: float | None,
        flight: Flight,
    ) -> Response:
        spec = prepared.spec
        call = _decide.Call(spec.api_id, spec.is_order, prepared.body)
        http = self._session(for_orders=spec.is_order)
        per_call_timeout = None if timeout is None else aiohttp.ClientTimeout(total=timeout)
        spent = _decide.Spent()
        while True:
            # The token comes first: a slow token request must not bank budget grants that
            # would then all go out at once. Wrapped, it never shows in a traceback's locals.
            token = Secret(await self.tokens.token())
            await self._acquire(spec)
            result = await self._send(
                http, prepared, token, (cont_yn, next_key), per_call_timeout, flight
            )
            decision = _decide.decide(call, result, spent, self.retry)
            if self._feedback is not None and isinstance(result, _decide.Answer):
                self._feedback.observe(_rate_limited(decision, spent))
            if isinstance(decision, _decide.Done):
                assert isinstance(result, _decide.Answer)
                return Response(
                    spec.api_id,
                    result.body,
                    decision.code,
                    decision.message,
                    result.headers.get("cont-yn", "N") == "Y",
                    result.headers.get("next-key", ""),
                    result.status,
                    spent.retries,
                )
            if isinstance(decision, _decide.Fail):
                if decision.token_refused:
                    self.tokens.invalidate(token.reveal())  # the next call starts anew
                if isinstance(decision.error, OrderStatusUnknownError):
                    log.warning("%s: order state unknown (%s)", spec.api_id, decision.error.cause)
                raise decision.error
            if isinstance(decision, _decide.Replay):
                self.tokens.invalidate(token.reveal())
                log.info("%s: token refused; replaying once with a new one", spec.api_id)
            else:
                log.info("%s: %s; retry in %.2f s", spec.api_id, decision.reason, decision.delay)
                await self.retry.sleep(decision.delay)
            spent = decision.spent

    async def _send(
        self,
        http: aiohttp.ClientSession,
        prepared: _Prepared,
        token: Secret,
        continuation: tuple[bool, str],
        timeout: aiohttp.ClientTimeout | None,
        flight: Flight,
    ) -> _decide.Fault | _decide.Answer:
        """One request: the answer as a JSON object, or the fault that kept it from us."""
        traced = self._traced and flight.is_order
        if not traced:
            flight.leaving()
        try:
            async with http.post(
                prepared.url,
                data=prepared.payload,
                # Built in the call, never bound: the token must not sit in a frame's locals.
                headers=_headers(prepared.spec.api_id, token, *continuation),
                timeout=timeout or self._timeout,
                # Only the order pool is traced: a query has no use for the context.
                trace_request_ctx=flight.request_ctx() if traced else None,
            ) as resp:
                status = resp.status
                resp_headers: Mapping[str, str] = resp.headers
                raw = await resp.read()
        except aiohttp.ClientConnectorError as exc:
            return _decide.Fault(f"cannot connect ({exc.os_error.__class__.__name__})", False)
        except aiohttp.ConnectionTimeoutError:
            return _decide.Fault("timed out connecting", False, timed_out=True)
        except TimeoutError:
            return _decide.Fault("timed out", True, timed_out=True)
        except (aiohttp.ClientError, OSError) as exc:
            return _decide.Fault(f"connection failed ({type(exc).__name__})", True)
        if status >= 500:
            return _decide.Fault(f"HTTP {status}", True, status=status)
        try:
            decoded = _decode(raw)
        except (msgspec.DecodeError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            return _decide.Answer(status, cast("dict[str, Any]", decoded), resp_headers)
        if status in (401, 429):
            return _decide.Answer(status, {}, resp_headers)  # the status says what happened
        return _decide.Fault(f"HTTP {status}: body is not a JSON object", True, status=status)


def _rate_limited(decision: _decide.Decision, before: _decide.Spent) -> bool:
    """Whether the answer just decided about was a rate-limit answer."""
    if isinstance(decision, _decide.Retry):
        return decision.spent.rate_limited > before.rate_limited
    return isinstance(decision, _decide.Fail) and isinstance(decision.error, RateLimitError)


def _headers(api_id: str, token: Secret, cont_yn: bool, next_key: str) -> dict[str, str]:
    return {
        "api-id": api_id,
        "authorization": "Bearer " + token.reveal(),
        "Content-Type": _CONTENT_TYPE,
        "cont-yn": "Y" if cont_yn else "N",
        "next-key": next_key,
    }


@dataclass
class Pager:
    """Pages of one TR. Async-iterable (pages fetched as you go) and awaitable (all pages).

    After iteration, ``next_key`` holds the key to resume from (empty when the walk reached
    the last page) and ``has_more`` says whether the server had more.
    """

    _session: RestSession
    _prepared: _Prepared
    max_pages: int | None
    start_key: str
    next_key: str = ""
    has_more: bool = True
    pages_fetched: int = field(default=0)

    @property
    def session(self) -> RestSession:
        """The session the pages come from."""
        return self._session

    def __aiter__(self) -> AsyncIterator[Response]:
        return self._walk()

    def __await__(self) -> Generator[Any, None, list[Response]]:
        return self.all().__await__()

    async def all(self) -> list[Response]:
        return [page async for page in self]

    async def _walk(self) -> AsyncIterator[Response]:
        key = self.start_key
        while self.max_pages is None or self.pages_fetched < self.max_pages:
            page = await self._session._execute(self._prepared, bool(key), key, None)  # pyright: ignore[reportPrivateUsage]  # pyright: ignore[reportPrivateUsage]
            self.pages_fetched += 1
            self.has_more = page.cont_yn and bool(page.next_key)
            self.next_key = page.next_key if self.has_more else ""
            yield page
            if not self.has_more:
                return
            key = page.next_key
