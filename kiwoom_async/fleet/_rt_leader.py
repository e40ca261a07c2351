"""The fleet's realtime leader: whichever process holds the lease holds the app key's one
WebSocket, registers the union of every consumer's subscriptions and publishes what the
server pushes to Redis Streams.

- Election: ``SET leader <holder> NX PX lease``, renewed every third of the lease. Each term
  takes a number from ``INCR term``; every entry carries it, so consumers see a change of
  leader. A leader that cannot renew in time stops its WebSocket before its lease can pass to
  another process.
- Fencing: entries are added by a Lua script that checks the lease first, so a leader that
  stalled past its lease publishes nothing after the next one took over.
- Market data goes to a stream capped with ``MAXLEN ~``; account events (00, 04) and the
  session's lifecycle events to a stream read through consumer groups, with acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec
import redis.asyncio

from ..auth import TokenManager
from ..errors import KiwoomError
from ..models.lifecycle import Disconnected, LifecycleEvent
from ..models.realtime import RealtimeEvent
from ..realtime import RealtimeSession
from ._connect import REDIS_ERRORS, uncancelled
from ._rt_wire import ACCOUNT_TYPES, RealtimeKeys, encode_event

__all__ = ["RealtimeLeader"]

log = logging.getLogger("kiwoom_async.fleet")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[3])
"""
_decode = msgspec.json.Decoder().decode


class RealtimeLeader:
    """Runs for as long as its consumer: leads when it wins the lease, follows otherwise."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        keys: RealtimeKeys,
        tokens: TokenManager,
        *,
        url: str,
        holder: str,
        lease: float,
        market_maxlen: int,
        account_maxlen: int,
        sync_interval: float = 0.1,
        session_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._redis = client
        self.keys = keys
        self.tokens = tokens
        self.url = url
        self.holder = holder
        self.lease = lease
        self.market_maxlen = market_maxlen
        self.account_maxlen = account_maxlen
        self.sync_interval = sync_interval
        self._session_options = dict(session_options or {})
        self._term_task: asyncio.Task[None] | None = None
        self._renewed_at = 0.0
        self.terms = 0
        """Terms this process has led."""

    @property
    def leading(self) -> bool:
        return self._term_task is not None and not self._term_task.done()

    async def run(self) -> None:
        """Elect, renew, step down; forever (cancel to stop)."""
        try:
            while True:
                try:
                    await self._round()
                except REDIS_ERRORS as exc:
                    log.warning("realtime fleet: Redis unavailable (%s)", type(exc).__name__)
                    if self.leading and time.monotonic() - self._renewed_at > self.lease * 0.7:
                        # Another process may take the lease soon: one WebSocket at a time.
                        await self._step_down("the lease could not be renewed")
                await asyncio.sleep(self.lease / 3)
        finally:
            await self._step_down("closed", release=True)

    async def _round(self) -> None:
        lease_ms = max(1, int(self.lease * 1000))
        if self._term_task is not None and self._term_task.done():
            await self._step_down("its session ended", release=True)
        if self._term_task is None:
            won = self._redis.set(self.keys.leader, self.holder, nx=True, px=lease_ms)
            if await uncancelled(won):
                self._renewed_at = time.monotonic()
                term = int(await uncancelled(self._redis.incr(self.keys.term)))
                self.terms += 1
                log.info("realtime fleet: this process leads (term %d)", term)
                self._term_task = asyncio.get_running_loop().create_task(self._serve(term))
            return
        renewed = await uncancelled(
            self._redis.eval(_RENEW, 1, self.keys.leader, self.holder, lease_ms)
        )
        if renewed:
            self._renewed_at = time.monotonic()
        else:
            await self._step_down("another process holds the lease")

    async def _step_down(self, why: str, *, release: bool = False) -> None:
        task, self._term_task = self._term_task, None
        if task is not None:
            log.info("realtime fleet: stepping down (%s)", why)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if release:
            with contextlib.suppress(*REDIS_ERRORS):
                await uncancelled(self._redis.eval(_RELEASE, 1, self.keys.leader, self.holder))

    async def _serve(self, term: int) -> None:
        session = RealtimeSession(self.tokens, url=self.url, **self._session_options)
        counters = {self.keys.market: 0, self.keys.account: 0}
        async with session:
            sync = asyncio.get_running_loop().create_task(self._sync(session))
            try:
                if term > 1:
                    await self._publish(
                        Disconnected("the fleet's realtime leader changed"), term, counters
                    )
                async for event in session:
                    if not await self._publish(event, term, counters):
                        log.warning("realtime fleet: lost the lease while publishing")
                        return
            except KiwoomError as exc:
                log.warning("realtime fleet: the leader's session ended: %s", exc)
            finally:
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync

    async def _publish(
        self, event: RealtimeEvent | LifecycleEvent, term: int, counters: dict[str, int]
    ) -> bool:
        market = isinstance(event, RealtimeEvent) and not event.is_account
        stream = self.keys.market if market else self.keys.account
        counters[stream] += 1
        maxlen = self.market_maxlen if market else self.account_maxlen
        payload = encode_event(event, term, counters[stream])
        added = await uncancelled(
            self._redis.eval(_PUBLISH, 2, self.keys.leader, stream, self.holder, maxlen, payload)
        )
        return bool(added)

    async def _sync(self, session: RealtimeSession) -> None:
        """Keep the server's registrations equal to the union of what consumers want."""
        applied: dict[str, tuple[str, ...]] = {}
        groups: dict[str, str] = {}
        await uncancelled(self._redis.delete(self.keys.applied))
        while True:
            wanted = await self._wanted()
            for type_code in sorted(set(wanted) | set(applied)):
                items = tuple(sorted(wanted.get(type_code, ())))
                if items == applied.get(type_code, ()):
                    continue
                group = groups.setdefault(type_code, str(len(groups) + 1))
                try:
                    if items:
                        codes = [] if type_code in ACCOUNT_TYPES else list(items)
                        await session.subscribe(codes, [type_code], grp_no=group, refresh=False)
                        applied[type_code] = items
                    else:
                        codes = [] if type_code in ACCOUNT_TYPES else list(applied[type_code])
                        await session.unsubscribe(codes, [type_code], grp_no=group)
                        applied.pop(type_code)
                except KiwoomError as exc:
                    log.warning("realtime fleet: registering %s failed: %s", type_code, exc)
            await self._publish_applied(applied)
            await asyncio.sleep(self.sync_interval)

    async def _wanted(self) -> dict[str, set[str]]:
        names: list[Any] = []
        cursor: Any = 0
        while True:
            cursor, batch = await uncancelled(
                self._redis.scan(cursor, match=self.keys.wanted_pattern, count=1000)  # pyright: ignore[reportUnknownMemberType]
            )
            names += batch
            if not cursor:
                break
        wanted: dict[str, set[str]] = {}
        for raw in await uncancelled(self._redis.mget(names)) if names else []:
            if raw is None:
                continue
            try:
                pairs = _decode(raw)
                for item, type_code in pairs:
                    wanted.setdefault(str(type_code), set()).add(str(item))
            except (msgspec.DecodeError, TypeError, ValueError):
                log.warning("realtime fleet: unreadable subscription record skipped")
        return wanted

    async def _publish_applied(self, applied: dict[str, tuple[str, ...]]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.applied)
            if applied:
                pipe.hset(
                    self.keys.applied,
                    mapping={t: msgspec.json.encode(list(i)) for t, i in applied.items()},
                )
            await uncancelled(pipe.execute())
