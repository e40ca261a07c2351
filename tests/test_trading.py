"""Live trades against the simulator: statuses, chains, gaps, external orders, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kiwoom_async import InvalidOrderError, Kiwoom, SubscriptionError
from kiwoom_async.retry import Backoff
from kiwoom_async.testing import Simulator
from kiwoom_async.trading import (
    OrderSpec,
    TradeNotOpenError,
    TradeState,
    TradeStatus,
    TradeTimeoutError,
    TradingClosedError,
    TradingSession,
)
from kiwoom_async.trading._persist import TradeStore
from kiwoom_async.trading.book import OrderEvent
from tests.conftest import seconds, until

APPKEY, SECRETKEY = "trading-appkey-0123456789", "trading-secretkey-9876543210"
FAST: dict[str, Any] = {"backoff": Backoff(initial=0.01, maximum=0.05), "stability_window": 0.1}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=5, holdings={"005930": 100}, ping_interval=0) as simulator:
        yield simulator


def client(sim: Simulator) -> Kiwoom:
    return Kiwoom(APPKEY, SECRETKEY, base_url=sim.base_url, requests_per_second=None)


async def test_a_market_buy_is_a_trade_that_fills(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        trade = await trading.buy("005930", qty=10, price=None, trde_tp="3")
        assert await trade.done(timeout=seconds(5)) is TradeStatus.FILLED
    (order,) = sim.orders
    assert trade.ord_no == order.ord_no and trade.ord_nos == [order.ord_no]
    assert trade.filled_qty == 10 and trade.remaining_qty == 0
    assert trade.avg_price == order.fill_price
    assert [f.fill_no for f in trade.fills] == [f.fill_no for f in sim.state.desk.fills]
    assert all(f.source == "realtime" for f in trade.fills)
    statuses = [(e.status, e.source) for e in trade.log]
    assert statuses[0] == (TradeStatus.PENDING, "order")
    assert statuses[-1] == (TradeStatus.FILLED, "realtime")
    assert trade.status.korean == "체결" and not trade.external


async def test_partial_fills_over_time_then_a_modify_and_cancel_chain(sim: Simulator) -> None:
    sim.config.fill_interval, sim.config.fill_chance = 0.01, 1.0
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        price = sim.state.market.price("005930") - 2_000
        trade = await trading.buy("005930", qty=500, price=price, trde_tp="0")
        assert await trade.filled(qty=1, timeout=seconds(5)) >= 1
        sim.config.fill_interval = 0  # hold still while the chain is built
        await asyncio.sleep(0.03)
        await trading.modify(trade, price=price + 100)
        await trading.cancel(trade)
        assert await trade.done(timeout=seconds(5)) is TradeStatus.CANCELLED
    root, modify, cancel = (o for o in sim.orders if o.base_ord_no == trade.ord_no)
    assert trade.ord_nos == [root.ord_no, modify.ord_no, cancel.ord_no]
    assert [leg.kind for leg in trade.legs] == ["new", "modify", "cancel"]
    assert trade.filled_qty == root.filled_qty + modify.filled_qty < 500
    assert trade.remaining_qty == 0 and trade.status.korean == "취소"
    assert trading.open_trades() == [] and trading.trades() == [trade]


async def test_updates_come_in_order_and_end_when_done(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        trade = await trading.buy("005930", qty=5, price=50_000, trde_tp="0")  # rests
        seen: list[str] = []

        async def follow() -> None:
            async for update in trade.updates():
                seen.append(f"{update.kind}:{update.status.value}")

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0)
        await trading.cancel(trade)
        await asyncio.wait_for(follower, seconds(5))
    assert seen[0].startswith("leg:") and seen[-1] == "status:cancelled"


async def test_refusals_before_and_by_the_server(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        with pytest.raises(InvalidOrderError):
            await trading.buy("005930", qty=0, price=None, trde_tp="3")
        off_tick = await trading.buy("005930", qty=1, price=60_050, trde_tp="0")
        not_held = await trading.sell("000660", qty=1, price=None, trde_tp="3")
        assert trading.trades() == [off_tick, not_held]
        with pytest.raises(TradeNotOpenError):
            await trading.cancel(off_tick)
        with pytest.raises(TradeTimeoutError):
            resting = await trading.buy("005930", qty=1, price=50_000, trde_tp="0")
            await resting.done(timeout=0.05)
    assert off_tick.status is TradeStatus.REJECTED and "RC4010" in off_tick.state.reason
    assert not_held.status is TradeStatus.REJECTED and "RC4025" in not_held.state.reason
    assert off_tick.status.korean == "거부" and off_tick.ord_no is None
    assert [o.price for o in sim.orders] == [50_000]
    with pytest.raises(TradingClosedError):
        await resting.done()


async def test_orders_placed_elsewhere_are_external_trades(sim: Simulator) -> None:
    async with client(sim) as kw:
        before = await kw.order.buy("005930", qty=2, price=50_000, trde_tp="0")
        async with kw.trading(**FAST) as trading:
            (resting,) = trading.trades()  # from the snapshot on start
            assert resting.external and resting.ord_no == before.ord_no
            assert resting.status is TradeStatus.ACCEPTED and resting.remaining_qty == 2
            other = await kw.order.buy("005930", qty=3, price=None, trde_tp="3")
            await until(lambda: trading.trade(other.ord_no) is not None)
            found = trading.trade(other.ord_no)
            assert found is not None and found.external
            assert await found.done(timeout=seconds(5)) is TradeStatus.FILLED
            assert found.filled_qty == 3 and found.order.side == "buy"


async def test_fills_during_a_disconnect_are_learned_from_rest(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        trade = await trading.buy("005930", qty=40, price=50_000, trde_tp="0")
        await until(lambda: trading.realtime.ready)
        sim.config.drop_every = 0.01  # the connection drops again and again
        await until(lambda: not trading.realtime.ready)
        order = sim.orders[0]
        sim.state.desk._fill(order, 15, 50_000)  # while nobody listens
        syncs = trading.syncs
        sim.config.drop_every = None
        await until(lambda: trading.syncs > syncs and trade.filled_qty == 15)
        sim.state.desk._fill(order, 25, 50_000)
        assert await trade.done(timeout=seconds(5)) is TradeStatus.FILLED
    sources = {f.source: f.qty for f in trade.fills}
    assert sources.get("rest", 0) + sources.get("realtime", 0) == 40
    assert sources["rest"] >= 15 and trade.filled_qty == 40 == order.filled_qty
    assert trading.positions()["005930"].qty == 140


async def test_a_lost_answer_is_looked_up_and_the_trade_goes_on(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        sim.config.drop_after_order = True
        trade = await trading.buy("005930", qty=4, price=None, trde_tp="3")
        sim.config.drop_after_order = False
        assert await trade.done(timeout=seconds(5)) is TradeStatus.FILLED
    assert trade.ord_no == sim.orders[0].ord_no and trade.filled_qty == 4
    assert len(trading.trades()) == 1


async def test_trades_survive_a_restart_and_are_reconciled(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "trades.json"
    async with client(sim) as kw:
        async with kw.trading(state_path=path, **FAST) as trading:
            trade = await trading.buy("005930", qty=6, price=50_000, trde_tp="0")
            filled = await trading.buy("005930", qty=2, price=None, trde_tp="3")
            await filled.done(timeout=seconds(5))
        saved = msgspec.json.decode(path.read_bytes())
        assert {t["id"] for t in saved["trades"]} == {trade.id, filled.id}
        assert "secret" not in path.read_text() and "appkey" not in path.read_text()
        sim.state.desk._fill(sim.orders[0], 6, 50_000)  # while no process was running
        async with kw.trading(state_path=path, **FAST) as again:
            back = again.trade(trade.ord_no or "")
            assert back is not None and back.id == trade.id and not back.external
            assert back.status is TradeStatus.FILLED and back.filled_qty == 6
            assert back.fills[-1].source == "rest"
            assert len(again.trades()) == 2


async def test_closing_leaves_nothing_running(sim: Simulator) -> None:
    before = asyncio.all_tasks()
    async with client(sim) as kw:
        trading: TradingSession = kw.trading(**FAST)
        async with trading:
            await trading.buy("005930", qty=1, price=50_000, trde_tp="0")
            await trading.reconcile()
        with pytest.raises(TradingClosedError):
            await trading.buy("005930", qty=1, price=None, trde_tp="3")
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_a_trade_sent_by_a_process_that_died_is_found_by_its_key(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "trades.json"
    async with client(sim) as kw:
        # The last process sent this order and died before it saved the answer.
        ack = await kw.order.buy("005930", qty=3, price=None, trde_tp="3", idempotency_key="k1")
        spec = OrderSpec(stk_cd="005930", side="buy", qty=3, price=None, idempotency_key="k1")
        pending = TradeState(id="from-last-run", order=spec)
        path.write_bytes(TradeStore.encode([pending], {}))
        async with kw.trading(state_path=path, **FAST) as trading:
            (trade,) = trading.trades()
            assert await trade.done(timeout=seconds(5)) is TradeStatus.FILLED
    assert trade.id == "from-last-run" and trade.ord_no == ack.ord_no and not trade.external
    assert trade.filled_qty == 3


async def test_an_event_that_cannot_be_applied_ends_nothing(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        real_apply = trading.book.apply_event
        calls = 0

        def broken_once(event: OrderEvent) -> bool:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ValueError("a shape nobody foresaw")
            return real_apply(event)

        monkeypatch.setattr(trading.book, "apply_event", broken_once)
        syncs = trading.syncs
        trade = await trading.buy("005930", qty=2, price=None, trde_tp="3")
        assert await trade.done(timeout=seconds(5)) is TradeStatus.FILLED
        await until(lambda: trading.syncs > syncs)
    assert trading.bad_events == 1 and trade.filled_qty == 2


async def test_cancel_ends_every_working_leg_of_a_partly_modified_trade(sim: Simulator) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        trade = await trading.buy("005930", qty=10, price=50_000, trde_tp="0")
        await trading.modify(trade, price=50_100, qty=4)  # 6 stay at 50,000, 4 move
        assert [leg.remaining for leg in trade.legs] == [6, 4]
        await trading.cancel(trade, idempotency_key="stop-all")
        assert await trade.done(timeout=seconds(5)) is TradeStatus.CANCELLED
    kinds = [(o.action, o.orig_ord_no, o.qty) for o in sim.orders[2:]]
    root, moved = sim.orders[0].ord_no, sim.orders[1].ord_no
    assert sorted(kinds) == sorted([("cancel", moved, 4), ("cancel", root, 6)])
    assert {e.key for e in kw.order.ledger.entries()} == {"stop-all", "stop-all#1"}
    assert trade.remaining_qty == 0 and len(trade.ord_nos) == 4


async def test_a_refused_subscription_fails_the_start_and_leaves_nothing(sim: Simulator) -> None:
    sim.config.reg_refuse_types = frozenset({"00"})
    before = asyncio.all_tasks()
    async with client(sim) as kw:
        trading = kw.trading(**FAST)
        with pytest.raises(SubscriptionError):
            await trading.start()
        with pytest.raises(TradingClosedError):
            await trading.buy("005930", qty=1, price=None, trde_tp="3")
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set() and sim.orders == []


async def test_a_modify_whose_answer_is_lost_is_found_in_the_next_snapshot(
    sim: Simulator,
) -> None:
    async with client(sim) as kw, kw.trading(**FAST) as trading:
        trade = await trading.buy("005930", qty=5, price=50_000, trde_tp="0")
        sim.config.drop_after_order = True
        await trading.modify(trade, price=50_100)  # placed; its answer never comes
        sim.config.drop_after_order = False
        await until(lambda: len(trade.ord_nos) == 2)
        assert trade.legs[1].kind == "modify" and trade.current_ord_no == sim.orders[1].ord_no
        assert trade.status is TradeStatus.CONFIRMED and "lost" in trade.state.reason
        await trading.cancel(trade)
        assert await trade.done(timeout=seconds(5)) is TradeStatus.CANCELLED
    assert [o.action for o in sim.orders] == ["new", "modify", "cancel"]
