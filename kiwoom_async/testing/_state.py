"""State shared by the REST and WebSocket sides of the simulator: accounts, tokens, rate windows,
pagination chains, the market and the order book."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import random
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._config import SimConfig
from ._market import Market
from ._orders import OrderDesk, OrderListener, OrderRecord, Position

if TYPE_CHECKING:
    from ._ws import WsStats

__all__ = ["SimState", "SimStats", "TokenInfo"]

# Pagination chains nobody finishes must not grow without bound.
_MAX_CHAINS = 10_000

_REORDER_HORIZON = 60.0
"""Seconds an arrival may be admitted late (behind the injected latency) and still be placed
among the arrivals before it; older entries are forgotten."""


def _window_shape(rate: float) -> tuple[float, int]:
    """(window seconds, requests allowed in it) for a rate in requests per second.

    Below one request per second the window widens so that exactly one request fits in it.
    """
    if rate <= 0:
        return 1.0, 0
    if rate >= 1:
        return 1.0, int(rate)
    return 1.0 / rate, 1


def _forget(window: list[float], horizon: float) -> None:
    if window and window[0] <= horizon:
        del window[: bisect.bisect_right(window, horizon)]


def _fits(window: list[float], moment: float, span: float, budget: int) -> bool:
    """Whether ``moment`` can join the sorted arrivals so that no ``budget + 1`` of them lie
    within ``span`` seconds: an arrival leaves the window ``span`` after it came."""
    if budget <= 0:
        return False
    at = bisect.bisect_right(window, moment)
    # Every run of budget + 1 consecutive arrivals that would include the new one.
    for first in range(max(0, at - budget), at + 1):
        last = first + budget  # index in the window with the new arrival inserted
        if last > len(window):
            break
        start = moment if first == at else window[first]
        end = moment if last == at else window[last - 1]
        if end - start < span:
            return False
    return True


@dataclass(slots=True)
class SimStats:
    """Counters tests read to check what the client did."""

    token_issues: int = 0
    token_revokes: int = 0
    requests_by_api_id: Counter[str] = field(default_factory=Counter)  # pyright: ignore[reportUnknownVariableType]
    """Every REST request that named a served TR, counted on arrival (before faults)."""
    rate_limit_rejections: int = 0
    http500s: int = 0
    malformed_bodies: int = 0
    dropped_connections: int = 0
    bad_next_keys: int = 0


@dataclass(slots=True)
class TokenInfo:
    appkey: str
    expires_at: float
    """time.time() after which the token is refused."""


@dataclass(frozen=True, slots=True)
class _Chain:
    appkey: str
    api_id: str
    page: int


class SimState:
    """Everything both sides of the simulator read and write. Single event loop, no locks."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        """Fault draws (latency, 500s, malformed bodies); the market has its own per-code RNGs."""
        self.market = Market(seed=config.seed)
        self.stats = SimStats()
        self.desk = OrderDesk(config, self.market)
        self.accounts: dict[str, str] = {}
        """appkey -> secretkey."""
        self._tokens: dict[str, TokenInfo] = {}
        self._windows: dict[str, list[float]] = {}
        self._api_windows: dict[tuple[str, str], list[float]] = {}
        self._chains: OrderedDict[str, _Chain] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ws: WsStats | None = None
        """The WebSocket side's counters, once it is attached."""
        self.market.add_tick_listener(self.desk.on_tick)

    # --- accounts and tokens ---

    def add_account(self, appkey: str, secretkey: str) -> None:
        self.accounts[appkey] = secretkey

    def check_credentials(self, appkey: str, secretkey: str) -> bool:
        """True if the pair is known; an unknown app key is registered unless credentials are
        strict."""
        known = self.accounts.get(appkey)
        if known is None:
            if self.config.strict_credentials:
                return False
            self.accounts[appkey] = secretkey
            return True
        return secrets.compare_digest(known, secretkey)

    def issue_token(self, appkey: str) -> tuple[str, float]:
        """A new token for ``appkey`` and its expiry (time.time() based)."""
        if self.config.reissue_invalidates_old:
            for token in [t for t, info in self._tokens.items() if info.appkey == appkey]:
                del self._tokens[token]
        token = secrets.token_urlsafe(64)
        expires_at = time.time() + self.config.token_lifetime
        self._tokens[token] = TokenInfo(appkey, expires_at)
        self.stats.token_issues += 1
        return token, expires_at

    def revoke_token(self, appkey: str, token: str) -> bool:
        info = self._tokens.get(token)
        if info is None or info.appkey != appkey:
            return False
        del self._tokens[token]
        self.stats.token_revokes += 1
        return True

    def appkey_for_token(self, token: str) -> str | None:
        """The app key of a currently valid token, else None."""
        info = self._tokens.get(token)
        if info is None:
            return None
        if time.time() >= info.expires_at:
            del self._tokens[token]
            return None
        return info.appkey

    def invalidate_tokens(self) -> None:
        """Refuse every token issued so far (a server-side reset)."""
        self._tokens.clear()

    def account_no(self, appkey: str) -> str:
        """A stable ten-digit account number per app key."""
        digest = hashlib.sha256(appkey.encode()).digest()
        return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"

    # --- orders ---

    @property
    def orders(self) -> list[OrderRecord]:
        return self.desk.orders

    def add_order_listener(self, callback: OrderListener) -> Callable[[], None]:
        """Call ``callback(order, event)`` synchronously for every order event; returns a remover.

        Events: "accepted" (a new order took a number), "filled" (an execution: ``last_fill_qty``
        at ``last_fill_price``; ``remaining_qty`` > 0 means a partial fill), "modified" (the
        record is the new order a modify created; ``orig_ord_no`` is the modified one) and
        "cancelled" (the record is the cancel request, ``qty`` the cancelled quantity, or an
        IOC/FOK order whose unfilled rest was cancelled). Positions are updated before "filled"
        is announced.
        """
        return self.desk.add_listener(callback)

    def positions(self, appkey: str) -> dict[str, Position]:
        """A snapshot of ``appkey``'s holdings: stock code -> Position."""
        return self.desk.positions(appkey)

    # --- rate limiting ---

    def admit(self, appkey: str, api_id: str, now: float | None = None) -> bool:
        """Count a request against the sliding windows, or refuse it without counting.

        ``now`` is the request's arrival. Requests may be admitted out of arrival order (the
        handler decides after the injected latency, and the latency can change while requests
        sleep in it), so each window is kept sorted and a request is admitted only if no
        window of the rule's span around it would then hold more than the budget."""
        moment = time.monotonic() if now is None else now
        windows: list[tuple[list[float], float]] = []
        if self.config.rate_limit is not None:
            windows.append((self._windows.setdefault(appkey, []), self.config.rate_limit))
        if self.config.rate_limit_per_api_id is not None:
            window = self._api_windows.setdefault((appkey, api_id), [])
            windows.append((window, self.config.rate_limit_per_api_id))
        for window, rate in windows:
            span, budget = _window_shape(rate)
            _forget(window, moment - span - _REORDER_HORIZON)
            if not _fits(window, moment, span, budget):
                return False
        for window, _ in windows:
            bisect.insort(window, moment)
        return True

    # --- pagination ---

    def issue_next_key(self, appkey: str, api_id: str, page: int) -> str:
        """An opaque key that unlocks ``page`` of this chain, once, for this app key and TR."""
        key = secrets.token_urlsafe(24)
        self._chains[key] = _Chain(appkey, api_id, page)
        while len(self._chains) > _MAX_CHAINS:
            self._chains.popitem(last=False)
        return key

    def redeem_next_key(self, appkey: str, api_id: str, key: str) -> int | None:
        """The page a continuation key unlocks, or None if the key is not the chain's latest."""
        chain = self._chains.get(key)
        if chain is None or chain.appkey != appkey or chain.api_id != api_id:
            return None
        del self._chains[key]
        return chain.page

    # --- background tasks ---

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the simulator cancels when it closes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
