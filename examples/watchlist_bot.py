"""A small complete bot: watch a list of stocks, rest bids, trade, survive a lost answer.

1. Poll the order books of a watchlist at the server's budget (5 requests/s).
2. Subscribe to the account's fills (realtime type 00).
3. Rest a limit buy one tick under the best bid of each stock (on the KRX tick grid), each
   with an idempotency key, so a rerun of the bot cannot place them twice.
4. Buy at market; the simulator drops the answer, as a network cut would. The bot does not
   guess: it reconciles (looks the order up through REST), then sends the same key again,
   which replays the first answer instead of buying twice. The fill arrives on the stream.
5. Cancel the resting bids, again with keys, and check on the server that every order went
   out exactly once.

Runs against the embedded simulator; against the real API, drop the Simulator and build the
client with ``Kiwoom.from_env()``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from kiwoom_async import Kiwoom, OrderStatusUnknownError
from kiwoom_async._kst import KST
from kiwoom_async.krx import round_to_tick
from kiwoom_async.models.realtime import OrderFill
from kiwoom_async.testing import Simulator

WATCHLIST = ["005930", "000660", "035420", "051910"]
ROUNDS = 2


async def poll(kw: Kiwoom, sim: Simulator) -> dict[str, int]:
    """Best bids of the watchlist, polled ``ROUNDS`` times at the client's budget."""
    started = time.perf_counter()
    bids: dict[str, int] = {}
    for _ in range(ROUNDS):
        books = await asyncio.gather(*(kw.quote.orderbook(code) for code in WATCHLIST))
        bids = {code: book.buy_fpr_bid or 0 for code, book in zip(WATCHLIST, books, strict=True)}
    elapsed = time.perf_counter() - started
    calls = ROUNDS * len(WATCHLIST)
    refused = sim.stats.rate_limit_rejections
    print(f"polled   {calls} order books in {elapsed:.1f} s, {refused} refused by the rate limit")
    return bids


async def watch_fills(
    kw: Kiwoom, ready: asyncio.Event, filled: dict[int, int], fill_seen: asyncio.Event
) -> None:
    async with kw.realtime() as rt:
        await rt.subscribe([], ["00"])
        ready.set()
        async for event in rt:
            if isinstance(event, OrderFill) and event.fill_qty and event.order_no is not None:
                filled[event.order_no] = filled.get(event.order_no, 0) + event.fill_qty
                fill_seen.set()
                print(f"fill     order {event.order_no}: {event.fill_qty} @ {event.fill_price:,}")


async def main() -> None:
    day = datetime.now(KST).strftime("%Y%m%d")
    async with (
        Simulator(rate_limit=5, seed=7) as sim,
        Kiwoom("appkey", "secretkey", base_url=sim.base_url, requests_per_second=5) as kw,
    ):
        filled: dict[int, int] = {}
        ready, fill_seen = asyncio.Event(), asyncio.Event()
        watcher = asyncio.create_task(watch_fills(kw, ready, filled, fill_seen))
        await ready.wait()
        bids = await poll(kw, sim)

        resting: dict[str, str] = {}
        for code, bid in bids.items():
            price = round_to_tick(bid - 1, "buy")  # the next tick under the best bid
            ack = await kw.order.buy(
                code, qty=1, price=price, trde_tp="0", idempotency_key=f"{day}-bid-{code}"
            )
            resting[code] = ack.ord_no
            print(f"bid      {code} 1 @ {price:,} (best bid {bid:,}) -> order {ack.ord_no}")

        key = f"{day}-market-{WATCHLIST[0]}"
        sim.config.drop_after_order = True  # the next order's answer is lost
        try:
            await kw.order.buy(WATCHLIST[0], qty=1, price=None, trde_tp="3", idempotency_key=key)
        except OrderStatusUnknownError as lost:
            sim.config.drop_after_order = False
            print(f"lost     the answer to the market buy: {lost.cause}")
            found = await kw.order.reconcile(lost)
            print(f"found    by reconciliation: order {found.ord_no}")
        again = await kw.order.buy(
            WATCHLIST[0], qty=1, price=None, trde_tp="3", idempotency_key=key
        )
        print(f"again    same key -> order {again.ord_no}, replayed: {again.replayed}")
        async with asyncio.timeout(10):
            while int(again.ord_no) not in filled:
                fill_seen.clear()
                await fill_seen.wait()

        for code, ord_no in resting.items():
            cancel = await kw.order.cancel(ord_no, code, idempotency_key=f"{day}-cancel-{ord_no}")
            print(f"cancel   order {ord_no} -> {cancel.ord_no}")
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

        new = [o for o in sim.orders if o.api_id == "kt10000"]
        cancels = [o for o in sim.orders if o.api_id == "kt10003"]
        print(
            f"server saw {len(new)} buys and {len(cancels)} cancels for "
            f"{len(WATCHLIST) + 1} buys and {len(resting)} cancels asked: none sent twice"
            if (len(new), len(cancels)) == (len(WATCHLIST) + 1, len(resting))
            else f"MISMATCH: server saw {len(new)} buys and {len(cancels)} cancels"
        )


if __name__ == "__main__":
    asyncio.run(main())
