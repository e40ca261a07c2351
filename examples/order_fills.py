"""Follow orders to their last fill across reconnects, without gluing events together by hand.

``kw.trading()`` places orders and hands back live trades. The simulator fills resting limit
orders in parts over time and drops the WebSocket every 2 seconds; fills that happen while it
is down are never pushed. The trading session notices every gap (``Resubscribed``), re-reads
the account's orders and balance through REST, adds what it missed (marked ``rest``) and never
counts a fill twice. A modify gets a new order number; the trade follows it.
"""

from __future__ import annotations

import asyncio

from kiwoom_async import Kiwoom, TradeStatus, TradingSession
from kiwoom_async.testing import Simulator
from kiwoom_async.trading import Trade

ORDERS = 6
CODE = "005930"


async def show_updates(trading: TradingSession) -> None:
    async for update in trading.updates():
        if update.fill is not None:
            fill = update.fill
            number = fill.fill_no or "(learned from REST after a gap)"
            print(f"fill     order {fill.ord_no}: {fill.qty} @ {fill.price}  {number}")
        elif update.kind == "status":
            trade = trading.trade_by_id(update.trade_id)
            ord_no = trade.ord_no if trade is not None else None
            status = f"{update.status.value} ({update.status.korean})"
            print(f"status   order {ord_no or '-'}: {status}, from {update.source}")


async def place(trading: TradingSession, price: int) -> list[Trade]:
    trades = []
    for _ in range(ORDERS):
        trade = await trading.buy(CODE, qty=30, price=price, trde_tp="0")
        print(f"placed   order {trade.ord_no}: buy 30 @ {price}")
        trades.append(trade)
        await asyncio.sleep(0.5)
    moved = await trading.modify(trades[-1], price=price + 100)
    print(f"modified order {moved.ord_nos[0]} -> {moved.ord_nos[-1]} (same trade)")
    return trades


async def filled_through_rest(kw: Kiwoom) -> dict[str, int]:
    """Shares filled per order number, as the executions TR (ka10076) lists them."""
    body = {"stk_cd": "", "qry_tp": "0", "sell_tp": "0", "ord_no": "", "stex_tp": "0"}
    filled: dict[str, int] = {}
    async for page in kw.rest.paginate("ka10076", body):
        for row in page.body["cntr"]:
            filled[row["ord_no"]] = int(row["cntr_qty"])
    return filled


async def main() -> None:
    async with (
        Simulator(drop_every=2.0, ping_interval=1.0, fill_interval=0.25, fill_chance=0.4) as sim,
        Kiwoom("appkey", "secretkey", base_url=sim.base_url, requests_per_second=None) as kw,
        kw.trading(stability_window=1.0) as trading,
    ):
        printer = asyncio.create_task(show_updates(trading))
        price = sim.state.market.price(CODE) - 1_000  # below the market: the orders rest
        trades = await place(trading, price)
        await asyncio.gather(*(trade.done(timeout=60) for trade in trades))
        printer.cancel()
        listed = await filled_through_rest(kw)
        from_rest = sum(f.qty for t in trades for f in t.fills if f.source == "rest")
        lost = [
            t for t in trades if t.filled_qty != sum(listed.get(leg.ord_no, 0) for leg in t.legs)
        ]
        held = trading.positions()[CODE].qty
        print(f"{from_rest} shares were filled during gaps and learned through REST")
        print(f"position {CODE}: {held} shares (from 04 events, checked against kt00018)")
        filled = sum(1 for t in trades if t.status is TradeStatus.FILLED)
        if lost:
            print(f"{len(lost)} trades disagree with the server")
        else:
            print(f"{filled} of {len(trades)} orders seen filled; none lost")


if __name__ == "__main__":
    asyncio.run(main())
