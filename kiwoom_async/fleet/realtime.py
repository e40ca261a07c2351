"""``kw.realtime()`` in fleet mode: one WebSocket per app key for every process, events
through Redis Streams.

Every :class:`FleetRealtime` takes part in the election (:mod:`._rt_leader`): the leader holds
the WebSocket and registers the union of everyone's subscriptions; every process, the leader
included, reads its events back from Redis:

- market data from a stream capped at ``market_maxlen`` entries (``MAXLEN ~``): a consumer
  that falls further behind loses the oldest, counted in ``stats.market_trimmed``; its own
  queue then applies ``overflow`` as a single session does;
- account events (00 fills, 04 balance) and lifecycle events from a stream read through a
  consumer group named by ``consumer``: an event is acknowledged when the next one is asked
  for (or at close), so a consumer that crashes gets what it had not finished with when it
  comes back under the same name. Without a ``consumer`` name each session is new and starts
  from the current end of the stream.

When the leader dies its lease runs out (``lease`` seconds) and another process takes over,
re-registers the union and announces the gap with :class:`Disconnected`, then the session's
own :class:`Connected` and :class:`Resubscribed`, as a single session does after a drop.
Data pushed while no process held the WebSocket is not replayed: re-read it through REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio
import redis.exceptions

from .._queue import EventQueue, OverflowPolicy
from .._wsconn import WsConnection
from ..auth import TokenManager
from ..errors import ConnectionClosedError, KiwoomError, KiwoomValidationError
from ..models.realtime import RealtimeEvent
from ..realtime import REGISTRABLE_TYPES, Entry, Event, RealtimeSession
from ._connect import DEFAULT_PREFIX, REDIS_ERRORS, async_client, redis_location, uncancelled
from ._rt_leader import RealtimeLeader
from ._rt_wire import ACCOUNT_TYPES, RealtimeKeys, decode_entry

__all__ = ["FleetRealtime", "FleetRealtimeStats"]

log = logging.getLogger("kiwoom_async.fleet")

_Delivery = tuple[Event, bytes | None]
_BLOCK_MS = 200
"""How long a read waits in Redis for new entries."""


class _Closed(Exception):
    pass


@dataclass
class FleetRealtimeStats:
    delivered: int = 0
    market_trimmed: int = 0
    """Market entries the stream dropped before this consumer read them (it fell behind)."""
    redelivered: int = 0
    """Account or lifecycle events delivered again after a restart (never acknowledged)."""
    malformed: int = 0


class FleetRealtime(RealtimeSession):
    """A realtime session whose events come through the fleet's one WebSocket.

    It is used as a :class:`~kiwoom_async.RealtimeSession` is (``async with``, ``async for``,
    ``subscribe``, ``unsubscribe``); condition search is not shared across the fleet and
    raises. ``fleet_stats`` counts what the fleet adds.
    """

    def __init__(
        self,
        tokens: TokenManager,
        *,
        redis_url: str,
        url: str | None = None,
        scope: str | None = None,
        consumer: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        redis_options: Mapping[str, Any] | None = None,
        lease: float = 3.0,
        market_maxlen: int = 10_000,
        account_maxlen: int = 100_000,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = "drop_oldest",
        account_queue_size: int = 100_000,
        ack_timeout: float = 10.0,
        **session_options: Any,
    ) -> None:
        if consumer is not None and (not isinstance(consumer, str) or not consumer):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise KiwoomValidationError("consumer must be a non-empty name")
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._durable = consumer is not None
        self.location = redis_location(redis_url)
        self.keys = RealtimeKeys(f"{prefix}:{scope or tokens.fingerprint}:rt")
        self._url = redis_url
        self._options = dict(redis_options or {})
        self.lease = lease
        self._leader_args: dict[str, Any] = {
            "lease": lease, "market_maxlen": market_maxlen,
            "account_maxlen": account_maxlen, "session_options": session_options,
        }  # fmt: skip
        super().__init__(
            tokens, url=url, queue_size=queue_size, overflow=overflow,
            account_queue_size=account_queue_size, ack_timeout=ack_timeout,
        )  # fmt: skip
        self._deliveries: EventQueue[_Delivery] = EventQueue(
            queue_size, overflow, priority_maxsize=account_queue_size
        )
        self.fleet_stats = FleetRealtimeStats()
        self._wanted_groups: dict[str, set[tuple[str, str]]] = {}
        self._client: redis.asyncio.Redis | None = None
        self._leader: RealtimeLeader | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._delivered: list[bytes] = []
        self._readers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._positions: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        role = "leader" if self.is_leader else "follower"
        return f"<FleetRealtime {self.location} consumer={self.consumer!r} {role}>"

    @property
    def is_leader(self) -> bool:
        return self._leader is not None and self._leader.leading

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """Every (item, type) this consumer subscribed, all groups together."""
        groups = self._wanted_groups
        return set[tuple[str, str]]().union(*groups.values()) if groups else set()

    @property
    def ready(self) -> bool:
        return self._client is not None

    @property
    def subscriptions(self) -> dict[str, list[Entry]]:
        return {
            grp: [((item,), (type_code,)) for item, type_code in sorted(pairs)]
            for grp, pairs in self._wanted_groups.items()
        }

    async def wait_ready(self, timeout: float | None = None) -> None:
        self._redis()

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FleetRealtime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        if self._client is not None:
            return
        client = self._client = async_client(self._url, self._options)
        try:
            market_from = await self._stream_end(self.keys.market)
            await self._create_group()
        except REDIS_ERRORS as exc:
            await self.aclose()
            raise ConnectionClosedError(
                f"realtime fleet: Redis at {self.location} is unavailable ({type(exc).__name__})"
            ) from None
        self._leader = RealtimeLeader(
            client, self.keys, self.tokens, url=self.url,
            holder=self.consumer + ":" + secrets.token_hex(4), **self._leader_args,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._tasks = [
            loop.create_task(self._leader.run()),
            loop.create_task(self._keep_wanted()),
        ]
        # The account reader starts with the first subscription: until then this consumer
        # wants no fill, and one read now would be acknowledged unseen.
        self._readers = [loop.create_task(self._read_market(market_from))]

    async def aclose(self) -> None:
        """Acknowledge what was delivered, stop taking part, end the stream. Idempotent."""
        if self._client is not None and self._delivered:
            await self._acknowledge()
        tasks, self._tasks = self._tasks, []
        readers, self._readers = self._readers, []
        # The readers block in Redis for at most _BLOCK_MS: they are asked to stop rather
        # than cancelled, since cancelling a blocking read can leave it hanging.
        self._stopping = True
        if readers:
            _, stuck = await asyncio.wait(readers, timeout=_BLOCK_MS / 1000 * 4)
            tasks += list(stuck)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5.0)
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await client.delete(self.keys.wanted(self.consumer))
                if not self._durable:
                    await client.xgroup_destroy(self.keys.account, self.consumer)
            with contextlib.suppress(*REDIS_ERRORS):
                await client.aclose()
        self._deliveries.fail(_Closed())

    # --- events ----------------------------------------------------------------------------

    def __aiter__(self) -> FleetRealtime:
        return self

    async def __anext__(self) -> Event:
        if self._delivered:
            await self._acknowledge()  # the consumer is done with what it got before
        try:
            try:
                event, entry_id = self._deliveries.get_nowait()
            except LookupError:
                event, entry_id = await self._deliveries.get()
        except _Closed:
            raise StopAsyncIteration from None
        if entry_id is not None:
            self._delivered.append(entry_id)
        self.fleet_stats.delivered += 1
        return event

    # --- subscriptions ---------------------------------------------------------------------

    async def subscribe(
        self, items: Iterable[str], types: Iterable[str], *, grp_no: str = "1", refresh: bool = True
    ) -> None:
        """Ask the leader to register ``types`` for ``items``; returns once it has."""
        pairs = _pairs(items, types)
        group = self._wanted_groups.setdefault(grp_no, set())
        if not refresh:
            group.clear()
        group.update(pairs)
        if len(self._readers) == 1:
            self._readers.append(asyncio.get_running_loop().create_task(self._read_account()))
        await self._write_wanted()
        await self._until_applied(pairs)

    async def unsubscribe(
        self, items: Iterable[str], types: Iterable[str], *, grp_no: str = "1"
    ) -> None:
        group = self._wanted_groups.get(grp_no, set())
        group.difference_update(_pairs(items, types))
        if not group:
            self._wanted_groups.pop(grp_no, None)
        await self._write_wanted()

    # --- internals -------------------------------------------------------------------------

    async def _ready_connection(self, timeout: float) -> WsConnection:
        raise KiwoomError(
            "condition search is not shared across the fleet: only the leader holds the "
            "WebSocket. Nothing was sent"
        )

    def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            raise ConnectionClosedError("this realtime session is not started or is closed")
        return self._client

    async def _write_wanted(self) -> None:
        body = msgspec.json.encode(sorted(self.pairs))
        try:
            key = self.keys.wanted(self.consumer)
            await uncancelled(self._redis().set(key, body, px=self._wanted_ttl()))
        except REDIS_ERRORS as exc:
            raise ConnectionClosedError(
                f"realtime fleet: Redis at {self.location} is unavailable ({type(exc).__name__})"
            ) from None

    def _wanted_ttl(self) -> int:
        return max(1, int(self.lease * 3000))

    async def _keep_wanted(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            with contextlib.suppress(*REDIS_ERRORS):
                await self._write_wanted()

    async def _until_applied(self, pairs: set[tuple[str, str]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout
        while True:
            with contextlib.suppress(*REDIS_ERRORS):
                applied = await uncancelled(self._redis().hgetall(self.keys.applied))
                registered = {
                    (item, _text(type_code))
                    for type_code, items in applied.items()
                    for item in msgspec.json.decode(items)
                }
                if pairs <= registered:
                    return
            if loop.time() > deadline:
                raise ConnectionClosedError(
                    f"realtime fleet: no leader registered {sorted(pairs)} within "
                    f"{self.ack_timeout:.0f} s"
                )
            await asyncio.sleep(0.02)

    async def _stream_end(self, stream: str) -> bytes:
        last: Any = await uncancelled(self._redis().xrevrange(stream, count=1))
        return _bytes(last[0][0]) if last else b"0-0"

    async def _create_group(self) -> None:
        try:
            create = self._redis().xgroup_create
            await uncancelled(create(self.keys.account, self.consumer, id="$", mkstream=True))
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_market(self, last: bytes) -> None:
        stream = self.keys.market
        while not self._stopping:
            try:
                answer: Any = await self._redis().xread({stream: last}, count=500, block=_BLOCK_MS)
            except REDIS_ERRORS as exc:
                log.warning("realtime fleet: reading market data failed (%s)", type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for _name, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id
                    delivery = self._decoded(stream, fields)
                    if delivery is None:
                        continue
                    event = delivery[0]
                    if isinstance(event, RealtimeEvent) and (event.item, event.type) in self.pairs:
                        self._deliveries.put_market((event, None), (event.type, event.item))

    async def _read_account(self) -> None:
        stream, group = self.keys.account, self.consumer
        position: bytes = b"0"  # first what an earlier life of this consumer left unacknowledged
        while not self._stopping:
            try:
                answer: Any = await self._redis().xreadgroup(
                    group, self.consumer, {stream: position}, count=500,
                    block=None if position != b">" else _BLOCK_MS,  # pyright: ignore[reportUnnecessaryComparison]  # pyright: ignore[reportUnnecessaryComparison]
                )  # fmt: skip
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self._create_group()
                    continue
                raise
            except REDIS_ERRORS as exc:
                log.warning(
                    "realtime fleet: reading account events failed (%s)", type(exc).__name__
                )
                await asyncio.sleep(0.5)
                continue
            entries: list[Any] = [entry for _name, batch in answer or () for entry in batch]
            if position != b">":
                # Pending entries come back from after the id given, batch by batch.
                self.fleet_stats.redelivered += len(entries)
                position = _bytes(entries[-1][0]) if entries else b">"
            for entry_id, fields in entries:
                await self._deliver_account(entry_id, fields)

    async def _deliver_account(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> None:
        delivery = self._decoded(self.keys.account, fields)
        event = None if delivery is None else delivery[0]
        if isinstance(event, RealtimeEvent):
            if any(t == event.type for _, t in self.pairs):
                self._deliveries.put_priority((event, entry_id))
                return
        elif event is not None:
            self._deliveries.put_lifecycle((event, entry_id))
            return
        # Not wanted here, or unreadable (counted): nothing will come of it, acknowledge.
        with contextlib.suppress(*REDIS_ERRORS):
            await uncancelled(self._redis().xack(self.keys.account, self.consumer, entry_id))

    def _decoded(self, stream: str, fields: Mapping[bytes, bytes]) -> _Delivery | None:
        try:
            event, term, seq = decode_entry(fields[b"d"])
        except (KeyError, ValueError) as exc:
            self.fleet_stats.malformed += 1
            log.warning("realtime fleet: unreadable entry skipped (%s)", exc)
            return None
        previous = self._positions.get(stream)
        if stream == self.keys.market and previous is not None and previous[0] == term:
            self.fleet_stats.market_trimmed += max(0, seq - previous[1] - 1)
        self._positions[stream] = (term, seq)
        return event, None

    async def _acknowledge(self) -> None:
        ids, self._delivered = self._delivered, []
        try:
            await uncancelled(self._redis().xack(self.keys.account, self.consumer, *ids))
        except (*REDIS_ERRORS, ConnectionClosedError) as exc:
            # Not lost: unacknowledged entries are delivered again to this consumer name.
            log.warning("realtime fleet: acknowledging failed (%s)", type(exc).__name__)


def _pairs(items: Iterable[str], types: Iterable[str]) -> set[tuple[str, str]]:
    if isinstance(items, str) or isinstance(types, str):
        raise KiwoomValidationError("items and types are lists of codes, not one string")
    type_list = list(types)
    unknown = [t for t in type_list if t not in REGISTRABLE_TYPES]
    if not type_list or unknown:
        raise KiwoomValidationError(f"unknown or missing realtime type(s) {unknown}")
    item_list = list(items) or [""]
    return {
        ("" if type_code in ACCOUNT_TYPES else item, type_code)
        for item in item_list
        for type_code in type_list
    }


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
