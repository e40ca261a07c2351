"""The simulator's accounts hold cash that buys must fit in and fills move, reported by the
deposit TRs; and, when asked, it refuses orders while KRX is closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from kiwoom_async import KST, Kiwoom, OrderRejectedError
from kiwoom_async.testing import Simulator


def client(sim: Simulator) -> Kiwoom:
    return Kiwoom("k", "s", base_url=sim.base_url, ws_url=sim.ws_url, requests_per_second=None)


async def deposit(kw: Kiwoom) -> dict[str, Any]:
    response = await kw.rest.call("kt00001", {"qry_tp": "3"})
    return response.body


async def test_a_buy_that_does_not_fit_the_cash_is_refused_and_fills_move_cash() -> None:
    async with Simulator(cash=1_000_000, fill_orders=False) as sim, client(sim) as kw:
        resting = await kw.order.buy("005930", qty=10, price=60_000, trde_tp="0")  # 600,000
        body = await deposit(kw)
        assert int(body["entr"]) == 1_000_000
        assert int(body["ord_alow_amt"]) == 400_000  # the rest is promised to the open buy
        with pytest.raises(OrderRejectedError, match="RC4026"):
            await kw.order.buy("005930", qty=7, price=60_000, trde_tp="0")  # 420,000
        await kw.order.cancel(resting.ord_no, "005930")
        assert int((await deposit(kw))["ord_alow_amt"]) == 1_000_000
        sim.config.fill_orders = True
        await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        filled = sim.state.desk.fills[-1]
        body = await deposit(kw)
    assert int(body["entr"]) == 1_000_000 - filled.qty * filled.price
    assert len([o for o in sim.orders if o.action == "new"]) == 2  # the refused one left none


async def test_cash_none_turns_the_check_off() -> None:
    async with Simulator(cash=None, fill_orders=False) as sim, client(sim) as kw:
        await kw.order.buy("005930", qty=1_000_000, price=60_000, trde_tp="0")
    assert len(sim.orders) == 1


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (datetime(2025, 9, 8, 10, 0, tzinfo=KST), True),  # Monday, regular session
        (datetime(2025, 9, 8, 8, 35, tzinfo=KST), True),  # pre-market after-hours
        (datetime(2025, 9, 8, 20, 0, tzinfo=KST), False),  # after every window
        (datetime(2025, 9, 6, 10, 0, tzinfo=KST), False),  # Saturday
        (datetime(2025, 10, 3, 10, 0, tzinfo=KST), False),  # 개천절, a holiday
    ],
)
async def test_market_hours_refuse_orders_while_krx_is_closed(
    moment: datetime, accepted: bool
) -> None:
    async with (
        Simulator(market_hours=True, clock=lambda: moment, fill_orders=False) as sim,
        client(sim) as kw,
    ):
        if accepted:
            await kw.order.buy("005930", qty=1, price=60_000, trde_tp="0")
        else:
            with pytest.raises(OrderRejectedError, match="RC4058"):
                await kw.order.buy("005930", qty=1, price=60_000, trde_tp="0")
    assert len(sim.orders) == (1 if accepted else 0)


async def test_market_hours_are_off_by_default() -> None:
    saturday = datetime(2025, 9, 6, 10, 0, tzinfo=KST)
    async with Simulator(clock=lambda: saturday) as sim, client(sim) as kw:
        await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
    assert len(sim.orders) == 1
