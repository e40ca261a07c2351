"""One WebSocket for the fleet: a leader holds it, every consumer gets its events from Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio

from kiwoom_async import Kiwoom, RateLimits
from kiwoom_async.fleet._rt_wire import encode_event
from kiwoom_async.fleet.realtime import FleetRealtime
from kiwoom_async.models.realtime import OrderFill, StockTrade
from kiwoom_async.testing import Simulator

from ..conftest import seconds

APPKEY = "fleet-appkey-0123456789abcdef"
SECRETKEY = "fleet-secretkey-9876543210fedcba"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        seed=1, single_session_per_key=True, tick_interval=0.05, ping_interval=0
    ) as simulator:
        yield simulator


def client(sim: Simulator, redis_url: str) -> Kiwoom:
    return Kiwoom(
        APPKEY, SECRETKEY, base_url=sim.base_url, ws_url=sim.ws_url,
        rate_limits=RateLimits(per_key=50.0), redis_url=redis_url,
    )  # fmt: skip


async def next_of(rt: FleetRealtime, kind: type) -> object:
    async with asyncio.timeout(seconds(10)):
        async for event in rt:
            if isinstance(event, kind):
                return event
    raise AssertionError("stream ended")


async def test_two_consumers_share_one_websocket(sim: Simulator, redis_url: str) -> None:
    async with client(sim, redis_url) as first, client(sim, redis_url) as second:
        rt1 = first.realtime(consumer="strategy", lease=1.0)
        rt2 = second.realtime(consumer="risk", lease=1.0)
        assert isinstance(rt1, FleetRealtime) and isinstance(rt2, FleetRealtime)
        async with rt1, rt2:
            await rt1.subscribe(["005930"], ["0B"])
            await rt2.subscribe([], ["00"])
            await rt1.subscribe([], ["00"], grp_no="2")
            trade = await next_of(rt1, StockTrade)
            assert isinstance(trade, StockTrade) and trade.item == "005930"
            ack = await first.order.buy("005930", qty=1, price=None, trde_tp="3")
            fills = await asyncio.gather(next_of(rt1, OrderFill), next_of(rt2, OrderFill))
            assert {f.order_no for f in fills if isinstance(f, OrderFill)} == {int(ack.ord_no)}
            assert [rt1.is_leader, rt2.is_leader].count(True) == 1
    assert sim.ws_stats.logins == 1


class Consumer:
    """A consumer process (tests/fleet/_rt_worker.py) and the fills it printed."""

    def __init__(self, sim: Simulator, redis_url: str, name: str) -> None:
        self.args = [str(WORKER), sim.base_url, sim.ws_url, redis_url, name]
        self.fills: set[str] = set()
        """Order numbers of the 00 events received (an order's acceptance and its fill)."""
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *self.args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.ensure_future(self._read())
        async with asyncio.timeout(seconds(20)):
            await self.ready.wait()

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            if line.strip() == b"ready":
                self.ready.set()
            elif line.startswith(b"{"):
                self.fills.add(json.loads(line)["fill"])

    async def stop(self, *, kill: bool = False) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        if kill:
            os.kill(process.pid, signal.SIGKILL)
        else:
            assert process.stdin is not None
            process.stdin.close()
        async with asyncio.timeout(seconds(20)):
            await process.wait()
        if self._reader is not None:
            await self._reader


WORKER = Path(__file__).with_name("_rt_worker.py")


async def until_true(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(seconds(timeout)):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_killed_leader_is_replaced_and_no_fill_is_lost(
    sim: Simulator, redis_url: str
) -> None:
    first = Consumer(sim, redis_url, "strategy")
    second = Consumer(sim, redis_url, "risk")
    async with client(sim, redis_url) as kw:
        try:
            await first.start()  # the first one up leads
            await second.start()
            assert sim.ws_stats.logins == 1
            one = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
            await until_true(lambda: first.fills == second.fills == {str(int(one.ord_no))})

            killed_at = time.monotonic()
            await first.stop(kill=True)
            await until_true(lambda: sim.ws_stats.logins == 2 and sim.ws_stats.regs >= 2)
            failover = time.monotonic() - killed_at
            two = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
            both = {str(int(one.ord_no)), str(int(two.ord_no))}
            await until_true(lambda: second.fills == both)

            # Back under its name, the killed consumer gets the fill it missed, and not the
            # one it had finished with.
            restarted = Consumer(sim, redis_url, "strategy")
            await restarted.start()
            await until_true(lambda: str(int(two.ord_no)) in restarted.fills)
            assert restarted.fills == {str(int(two.ord_no))}
            await restarted.stop()
        finally:
            await first.stop(kill=True)
            await second.stop()
    assert failover < seconds(8)
    assert sim.stats.token_issues == 1


async def test_market_entries_trimmed_before_a_consumer_read_them_are_counted(
    sim: Simulator, redis_url: str
) -> None:
    async with client(sim, redis_url) as kw:
        rt = kw.realtime(lease=1.0)
        assert isinstance(rt, FleetRealtime)
        async with rt:
            await rt.subscribe(["005930"], ["0B"])
            trade = await next_of(rt, StockTrade)
            assert isinstance(trade, StockTrade)
            publisher = redis.asyncio.Redis.from_url(redis_url)
            try:
                # As the leader writes them; seq 2-4 were trimmed away (MAXLEN) unread.
                for seq in (10_000, 10_004):
                    entry = encode_event(trade, term=99, seq=seq)
                    await publisher.xadd(rt.keys.market, {"d": entry})
            finally:
                await publisher.aclose()
            await until_true(lambda: rt.fleet_stats.market_trimmed == 3)
    leftover = [t for t in asyncio.all_tasks() if "fleet" in repr(t.get_coro())]
    assert leftover == []  # closing leaves nothing running


async def test_fills_a_consumer_had_not_finished_come_back_once_under_its_name(
    sim: Simulator, redis_url: str
) -> None:
    async with client(sim, redis_url) as kw:
        first = kw.realtime(consumer="books", lease=1.0)
        assert isinstance(first, FleetRealtime)
        async with first:
            await first.subscribe([], ["00"])
            ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
            await next_of(first, OrderFill)
            # A crash: the process dies while handling the fill, before asking for more.
            first._delivered.clear()
        again = kw.realtime(consumer="books", lease=1.0)
        assert isinstance(again, FleetRealtime)
        async with again:
            await asyncio.sleep(0.3)  # subscribing late loses nothing
            await again.subscribe([], ["00"])
            fills = [await next_of(again, OrderFill), await next_of(again, OrderFill)]
            with contextlib.suppress(TimeoutError):  # and nothing comes twice
                async with asyncio.timeout(seconds(0.5)):
                    fills.append(await next_of(again, OrderFill))
    # The order's two 00 events (accepted, filled), each once: the unfinished one again.
    assert [f.order_no for f in fills if isinstance(f, OrderFill)] == [int(ack.ord_no)] * 2
    assert again.fleet_stats.redelivered >= 1
