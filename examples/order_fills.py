"""Follow order fills (type 00) and balance (type 04) across reconnects.

The simulator drops the connection every 2 seconds; the session logs in again with a fresh
token, re-registers, and says so in the event stream. Fills are never dropped.
"""

from __future__ import annotations

import asyncio

from kiwoom_async import Kiwoom
from kiwoom_async.models.lifecycle import Disconnected, Reconnecting, Resubscribed
from kiwoom_async.models.realtime import Balance, OrderFill
from kiwoom_async.testing import Simulator

ORDER = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "1", "ord_uv": "", "trde_tp": "3"}


async def place_orders(kw: Kiwoom, count: int) -> None:
    for _ in range(count):
        await kw.rest.call("kt10000", ORDER)
        await asyncio.sleep(0.5)


async def main() -> None:
    async with (
        Simulator(drop_every=2.0, ping_interval=1.0) as sim,
        Kiwoom("appkey", "secretkey", base_url=sim.base_url, ws_url=sim.ws_url) as kw,
        kw.realtime(stability_window=1.0) as rt,
    ):
        await rt.subscribe([], ["00", "04"])
        orders = asyncio.create_task(place_orders(kw, 6))
        filled = 0
        async for event in rt:
            if isinstance(event, OrderFill) and event.fill_qty:
                filled += 1
                print(f"fill    order {event.order_no}: {event.fill_qty} @ {event.fill_price}")
            elif isinstance(event, Balance):
                print(f"balance {event.code}: {event.holding_qty} held")
            elif isinstance(event, Disconnected | Reconnecting | Resubscribed):
                print(f"session {event}")
            if filled == 6:
                break
        await orders


if __name__ == "__main__":
    asyncio.run(main())
