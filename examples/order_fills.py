"""Follow order fills (type 00) and balance (type 04) across reconnects, without losing one.

The simulator drops the connection every 2 seconds. The session logs in again with a fresh
token, re-registers, and says so in the event stream. A fill pushed while the connection was
down is not replayed by the server, so after every ``Resubscribed`` the bot re-reads today's
executions through REST (ka10076) and catches up on what it missed; so it does after an
``AccountFrameLost`` (a fill frame that arrived damaged).
"""

from __future__ import annotations

import asyncio

from kiwoom_async import Kiwoom
from kiwoom_async.models.lifecycle import AccountFrameLost, Disconnected, Resubscribed
from kiwoom_async.models.realtime import Balance, OrderFill
from kiwoom_async.testing import Simulator

ORDERS = 6


async def place_orders(kw: Kiwoom, placed: set[int]) -> None:
    for _ in range(ORDERS):
        ack = await kw.order.buy("005930", qty=1, price=None, trde_tp="3")
        placed.add(int(ack.ord_no))
        await asyncio.sleep(0.5)


async def filled_through_rest(kw: Kiwoom) -> set[int]:
    """Order numbers with an execution today, from the executions TR."""
    numbers: set[int] = set()
    async for page in kw.account.filled_orders():
        numbers.update(int(row.ord_no) for row in page.cntr if row.ord_no)
    return numbers


async def main() -> None:
    async with (
        Simulator(drop_every=2.0, ping_interval=1.0) as sim,
        Kiwoom("appkey", "secretkey", base_url=sim.base_url, requests_per_second=None) as kw,
        kw.realtime(stability_window=1.0) as rt,
    ):
        await rt.subscribe([], ["00", "04"])
        placed: set[int] = set()
        filled: set[int] = set()
        orders = asyncio.create_task(place_orders(kw, placed))
        async for event in rt:
            if isinstance(event, OrderFill) and event.fill_qty and event.order_no is not None:
                filled.add(event.order_no)
                print(f"fill     order {event.order_no}: {event.fill_qty} @ {event.fill_price}")
            elif isinstance(event, Balance):
                print(f"balance  {event.code}: {event.holding_qty} held")
            elif isinstance(event, Disconnected):
                print(f"gap      {event.cause}")
            elif isinstance(event, Resubscribed | AccountFrameLost):
                missed = (await filled_through_rest(kw)) - filled
                for number in sorted(missed):
                    print(f"fill     order {number}: found through REST after the gap")
                filled |= missed
            if orders.done() and placed <= filled:
                break
        await orders
        print(f"{len(filled)} of {len(placed)} orders seen filled; none lost")


if __name__ == "__main__":
    asyncio.run(main())
