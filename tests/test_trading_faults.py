"""200 seeded orders with partial fills, modifies and cancels while the WebSocket drops 20
times: every trade ends as the simulator's ledger says, positions equal kt00018, and no fill
is counted twice or missing."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter, defaultdict

import pytest

from kiwoom_async import Kiwoom, OrderRejectedError
from kiwoom_async.krx import round_to_tick
from kiwoom_async.retry import Backoff
from kiwoom_async.testing import Simulator
from kiwoom_async.testing._orders import OrderRecord
from kiwoom_async.trading import Trade, TradeNotOpenError, TradeStatus, TradingSession
from kiwoom_async.trading._snapshot import CumulativeSource
from tests.conftest import seconds, until

APPKEY, SECRETKEY = "faults-appkey-0123456789", "faults-secretkey-9876543210"
CODES = ("005930", "000660", "035720")
ORDERS = 200
DROPS = 20
WORKERS = 8


async def _work(
    trading: TradingSession, sim: Simulator, rng: random.Random, count: int, trades: list[Trade]
) -> None:
    market = sim.state.market
    for _ in range(count):
        code = rng.choice(CODES)
        side = rng.choice(("buy", "sell"))
        qty = rng.randint(1, 60)
        place = trading.buy if side == "buy" else trading.sell
        if rng.random() < 0.2:
            trade = await place(code, qty=qty, price=None, trde_tp="3")
        else:
            # Near the market, on the side that rests: the fill clock trades it in parts.
            step = rng.randint(1, 4) * (-1 if side == "buy" else 1)
            target = market.price(code) * (1000 + 3 * step) // 1000
            price = round_to_tick(target, "buy" if side == "buy" else "sell")
            trade = await place(code, qty=qty, price=price, trde_tp="0")
        trades.append(trade)
        await asyncio.sleep(rng.random() * 0.15)  # orders spread over the drops
        try:
            if rng.random() < 0.35 and trade.remaining_qty:
                new = round_to_tick(market.price(code), "nearest")
                await trading.modify(trade, price=new, qty=rng.choice((0, 1)))
            if rng.random() < 0.3 and trade.remaining_qty:
                await trading.cancel(trade, qty=rng.choice((0, 0, 1)))
        except (TradeNotOpenError, OrderRejectedError):
            pass  # filled meanwhile: the server says there is nothing left


def _chain(sim: Simulator, trade: Trade) -> list[OrderRecord]:
    return [o for o in sim.orders if o.base_ord_no == trade.ord_no]


@pytest.mark.parametrize(("seed", "cumulative"), [(1, "911"), (2, "unfilled")])
async def test_two_hundred_orders_through_twenty_drops(
    seed: int, cumulative: CumulativeSource
) -> None:
    holdings = dict.fromkeys(CODES, 100_000)
    async with (
        Simulator(
            seed=seed,
            holdings=holdings,
            fill_interval=0.005,
            fill_chance=0.2,
            ping_interval=0,
            ws_malformed_rate=0.02,
        ) as sim,
        Kiwoom(APPKEY, SECRETKEY, base_url=sim.base_url, requests_per_second=None) as kw,
        kw.trading(backoff=Backoff(initial=0.005, maximum=0.02), stability_window=0.05) as trading,
    ):
        trading.fill_cumulative = cumulative
        rng = random.Random(seed)
        trades: list[Trade] = []
        workers = [
            asyncio.create_task(
                _work(trading, sim, random.Random(rng.random()), ORDERS // WORKERS, trades)
            )
            for _ in range(WORKERS)
        ]
        drops = sim.ws_stats.disconnects_by_reason
        while drops["drop_every"] < DROPS:
            sim.config.drop_every = 0.001  # the next check of each connection closes it
            await until(lambda: drops["drop_every"] > 0 and not trading.realtime.ready)
            sim.config.drop_every = None
            await until(lambda: trading.realtime.ready)
            await asyncio.sleep(0.03)
        await asyncio.gather(*workers)
        for trade in trades:
            if trade.remaining_qty:
                with contextlib.suppress(TradeNotOpenError, OrderRejectedError):
                    await trading.cancel(trade)  # every working leg of the chain
        sim.config.fill_interval = 0
        await asyncio.gather(*(t.done(timeout=seconds(10)) for t in trades))
        await trading.reconcile()
        balance = await kw.rest.call("kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"})

    assert len(trades) == ORDERS and drops["drop_every"] >= DROPS
    assert trading.stats.rest_fills > 0 and trading.stats.realtime_fills > 0
    fills_by_order: dict[str, list[str]] = defaultdict(list)
    for fill in sim.state.desk.fills:
        fills_by_order[fill.ord_no].append(fill.fill_no)
    seen_fill_nos: Counter[str] = Counter()
    for trade in trades:
        chain = _chain(sim, trade)
        root = chain[0]
        filled = sum(o.filled_qty for o in chain)
        amount = sum(o.fill_amount for o in chain)
        expected = TradeStatus.FILLED if filled == root.qty else TradeStatus.CANCELLED
        if trade.status is TradeStatus.REJECTED:
            pytest.fail(f"trade {trade} rejected: {trade.state.reason}")
        assert trade.status is expected, trade
        assert trade.filled_qty == filled, trade
        assert trade.ord_nos == [o.ord_no for o in chain], trade
        if filled:
            assert abs(trade.avg_price - amount / filled) <= 0.5, trade
        for leg, order in zip(trade.legs, chain, strict=True):
            assert leg.filled == order.filled_qty, (trade, leg)
            realtime = [f for f in trade.fills if f.ord_no == leg.ord_no and f.fill_no]
            from_rest = sum(f.qty for f in trade.fills if f.ord_no == leg.ord_no and not f.fill_no)
            assert sum(f.qty for f in realtime) + from_rest == order.filled_qty
            assert {f.fill_no for f in realtime} <= set(fills_by_order[order.ord_no])
            seen_fill_nos.update(f.fill_no for f in realtime)
            if order.filled_qty:
                assert abs(leg.avg_price - order.fill_amount / order.filled_qty) <= 0.5
    assert all(n == 1 for n in seen_fill_nos.values()), "a fill counted twice"
    assert [t for t in trading.trades() if t.external] == []
    listed = {
        row["stk_cd"].removeprefix("A"): int(row["rmnd_qty"])
        for row in balance.body["acnt_evlt_remn_indv_tot"]
    }
    held = {code: p.qty for code, p in trading.positions().items()}
    assert held == listed
    assert held == {c: p.qty for c, p in sim.state.positions(APPKEY).items()}
