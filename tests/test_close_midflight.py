"""Closing the client with calls in flight: every call ends with a documented KiwoomError,
never a bare CancelledError, and no order's state is blurred: an order that never got a
connection was not sent and its key is free again; one already on the wire gets its answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kiwoom_async import (
    KiwoomError,
    MemoryLedger,
    OrderAck,
    RateLimits,
    RestSession,
    SessionClosedError,
    TokenManager,
)
from kiwoom_async.api import OrderAPI
from kiwoom_async.testing import Simulator
from tests.conftest import seconds, until

QUOTE = ("ka10004", {"stk_cd": "005930"})


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=3, latency=seconds(0.3), fill_orders=False) as simulator:
        yield simulator


def arrived(sim: Simulator, api_id: str | None = None) -> int:
    counts = sim.stats.requests_by_api_id
    return counts[api_id] if api_id else sum(counts.values()) - counts["au10001"]


def session(sim: Simulator, limit: int) -> tuple[TokenManager, RestSession, OrderAPI]:
    tokens = TokenManager("close-appkey", "close-secretkey", base_url=sim.base_url)
    rest = RestSession(tokens, rate_limits=RateLimits(), connection_limit=limit)
    return tokens, rest, OrderAPI(rest, ledger=MemoryLedger())


def buy(orders: OrderAPI, key: str) -> Any:
    return orders.buy("005930", qty=1, price=60_000, trde_tp="0", idempotency_key=key)


async def test_closing_with_queries_and_waiting_orders_in_flight(sim: Simulator) -> None:
    tokens, rest, orders = session(sim, limit=4)
    async with tokens:
        queries = [asyncio.ensure_future(rest.call(*QUOTE)) for _ in range(100)]
        await until(lambda: arrived(sim) == 4)  # the pool is full: everything else waits
        keyed = [asyncio.ensure_future(buy(orders, f"close-{n}")) for n in range(2)]
        await asyncio.sleep(0)  # both orders are queued for a connection
        await rest.aclose()
        results = await asyncio.gather(*queries, *keyed, return_exceptions=True)
    assert not [r for r in results if isinstance(r, asyncio.CancelledError)]
    assert all(isinstance(r, SessionClosedError) for r in results)
    assert "not sent" in str(results[-1])
    # Neither order reached the server, so both keys are free for a retry.
    assert arrived(sim, "kt10000") == 0 and sim.orders == []
    for n in range(2):
        entry = orders.ledger.get(f"close-{n}")
        assert entry is not None and entry.state == "rejected"


async def test_an_order_on_the_wire_when_the_client_closes_gets_its_answer(
    sim: Simulator,
) -> None:
    tokens, rest, orders = session(sim, limit=4)
    async with tokens:
        order = asyncio.ensure_future(buy(orders, "on-the-wire"))
        query = asyncio.ensure_future(rest.call(*QUOTE))
        await until(lambda: arrived(sim, "kt10000") == 1 and arrived(sim, "ka10004") == 1)
        await rest.aclose()
        results: tuple[Any, ...] = await asyncio.gather(order, query, return_exceptions=True)
    ack, closed = results
    assert isinstance(ack, OrderAck) and ack.ord_no
    assert [o.ord_no for o in sim.orders] == [ack.ord_no]
    entry = orders.ledger.get("on-the-wire")
    assert entry is not None and entry.state == "done"
    assert isinstance(closed, SessionClosedError)  # a query is not waited for


async def test_a_call_after_close_raises_a_kiwoom_error_and_sends_nothing(
    sim: Simulator,
) -> None:
    tokens, rest, _ = session(sim, limit=4)
    async with tokens:
        await rest.call(*QUOTE)
        await rest.aclose()
        with pytest.raises(SessionClosedError) as info:
            await rest.call(*QUOTE)
    assert isinstance(info.value, KiwoomError)
    assert arrived(sim, "ka10004") == 1


async def test_the_callers_own_cancellation_still_propagates(sim: Simulator) -> None:
    tokens, rest, orders = session(sim, limit=4)
    async with tokens, rest:
        call = asyncio.ensure_future(buy(orders, "mine"))
        await until(lambda: arrived(sim, "kt10000") == 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    entry = orders.ledger.get("mine")
    assert entry is not None and entry.state == "unknown"  # it was on the wire
