"""The simulator is as strict as the exchange, and its orders live realistic lives: partial
fills over time, fill numbers for every execution, account TRs that agree with the pushes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kiwoom_async import Kiwoom, OrderRejectedError
from kiwoom_async.krx import price_band
from kiwoom_async.testing import Simulator
from tests.conftest import until

APPKEY, SECRETKEY = "strict-appkey-0123456789", "strict-secretkey-9876543210"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=2, holdings={"005930": 10}, fill_orders=False) as simulator:
        yield simulator


def client(sim: Simulator) -> Kiwoom:
    return Kiwoom(APPKEY, SECRETKEY, base_url=sim.base_url, requests_per_second=None)


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        (60_050, "RC4010:주문가격이 호가단위에 맞지 않습니다. 호가단위=100원"),
        (1, "RC4011"),  # 1 KRW: far below the lower limit
        (91_100, "RC4011"),  # 70,000 x 1.3 = 91,000 is the upper limit
        (48_950, "RC4011"),
    ],
)
async def test_prices_the_exchange_refuses(sim: Simulator, price: int, reason: str) -> None:
    lower, upper = price_band(sim.state.market.prev_close("005930"))
    assert (lower, upper) == (49_000, 91_000)
    async with client(sim) as kw:
        with pytest.raises(OrderRejectedError) as refused:
            await kw.order.buy("005930", qty=1, price=price, trde_tp="0")
        await kw.order.buy("005930", qty=1, price=upper, trde_tp="0")  # the limits are on tick
        await kw.order.buy("005930", qty=1, price=lower, trde_tp="0")
    assert refused.value.return_code == 20 and reason in refused.value.return_msg
    assert refused.value.return_msg.startswith("[2000](RC")
    assert [o.price for o in sim.orders] == [upper, lower]


async def test_funds_trade_in_five_won_steps(sim: Simulator) -> None:
    async with client(sim) as kw:
        await kw.order.buy("069500", qty=1, price=35_005, trde_tp="0")  # KODEX 200
        with pytest.raises(OrderRejectedError, match="RC4010"):
            await kw.order.buy("069500", qty=1, price=35_003, trde_tp="0")


async def test_a_modify_to_an_off_tick_price_is_refused(sim: Simulator) -> None:
    async with client(sim) as kw:
        ack = await kw.order.buy("005930", qty=3, price=60_000, trde_tp="0")
        with pytest.raises(OrderRejectedError, match="RC4010"):
            await kw.order.modify(ack.ord_no, "005930", qty=0, price=60_010)
        with pytest.raises(OrderRejectedError, match="RC4011"):
            await kw.order.modify(ack.ord_no, "005930", qty=0, price=100_000)
    assert len(sim.orders) == 1 and sim.orders[0].remaining_qty == 3


async def test_sells_need_shares_not_already_offered(sim: Simulator) -> None:
    async with client(sim) as kw:
        with pytest.raises(OrderRejectedError, match=r"RC4025.*매도가능수량=0주"):
            await kw.order.sell("000660", qty=1_000_000, price=None, trde_tp="3")
        await kw.order.sell("005930", qty=6, price=80_000, trde_tp="0")  # rests: 6 offered
        with pytest.raises(OrderRejectedError, match="매도가능수량=4주"):
            await kw.order.sell("005930", qty=5, price=None, trde_tp="3")
        await kw.order.sell("005930", qty=4, price=80_000, trde_tp="0")
    assert [o.qty for o in sim.orders] == [6, 4]


async def test_the_rules_can_be_relaxed() -> None:
    relaxed = Simulator(check_prices=False, check_holdings=False, fill_orders=False)
    async with relaxed as sim, client(sim) as kw:
        await kw.order.buy("005930", qty=1, price=60_050, trde_tp="0")
        await kw.order.sell("000660", qty=5, price=1, trde_tp="0")
    assert len(sim.orders) == 2


async def test_resting_orders_fill_in_parts_over_time_with_numbered_fills() -> None:
    async with (
        Simulator(seed=4, fill_interval=0.005, fill_chance=1.0) as sim,
        client(sim) as kw,
    ):
        ack = await kw.order.buy("005930", qty=200, price=60_000, trde_tp="0")
        order = sim.orders[0]
        assert order.filled_qty == 0  # below the market: it rests
        await until(lambda: order.remaining_qty == 0)
        fills = [f for f in sim.state.desk.fills if f.ord_no == ack.ord_no]
        assert len(fills) >= 2 and sum(f.qty for f in fills) == 200
        assert all(f.price == 60_000 for f in fills)
        numbers = [int(f.fill_no) for f in fills]
        assert numbers == sorted(set(numbers))
        rows = (await kw.rest.call("ka10076", _FILLED)).body["cntr"]
        balance = await kw.rest.call("kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"})
    (row,) = rows
    assert int(row["cntr_qty"]) == 200 and int(row["cntr_pric"]) == 60_000
    (held,) = balance.body["acnt_evlt_remn_indv_tot"]
    assert int(held["rmnd_qty"]) == 200 == sim.state.positions(APPKEY)["005930"].qty


_FILLED = {"stk_cd": "", "qry_tp": "0", "sell_tp": "0", "ord_no": "", "stex_tp": "0"}
