"""The demo: the library end to end against the embedded simulator, no account needed.

Run it with ``python -m kiwoom_async demo``.
"""

from __future__ import annotations

import asyncio
import time

from . import Kiwoom
from .models.lifecycle import Connected
from .models.realtime import OrderFill, StockTrade
from .testing import Simulator

__all__ = ["run"]

CODES = ["005930", "000660", "035420", "051910", "006400"]


async def run(*, quick: bool = False) -> None:
    async with (
        Simulator(rate_limit=5, tick_interval=0.05, ping_interval=2.0) as sim,
        Kiwoom(
            "demo-appkey",
            "demo-secretkey",
            env="mock",
            base_url=sim.base_url,
            ws_url=sim.ws_url,
            requests_per_second=5,
        ) as kw,
    ):
        print(f"simulator   {sim.base_url}  (rate limit 5 req/s, like the real server)")
        await kw.tokens.token()
        print(f"token       issued, valid until {kw.tokens.expires_at:%Y-%m-%d %H:%M} KST")

        started = time.perf_counter()
        books = await asyncio.gather(*(kw.quote.orderbook(code) for code in CODES))
        elapsed = time.perf_counter() - started
        print(f"\norder books of {len(CODES)} stocks, concurrently ({elapsed:.2f} s at 5 req/s)")
        print("  code        best ask   best bid")
        for code, book in zip(CODES, books, strict=True):
            print(f"  {code}   {book.sel_fpr_bid or 0:>9,}  {book.buy_fpr_bid or 0:>9,}")

        print("\ndaily prices of 005930, page by page (ka10086, cont-yn/next-key headers)")
        pager = kw.quote.daily_prices("005930", qry_dt="20241125", indc_tp="0", max_pages=3)
        async for page in pager:
            closes = ", ".join(f"{row.date} {row.close_pric or 0:,}" for row in page.daly_stkpc)
            print(f"  {closes}")
        print(f"  ({pager.pages_fetched} pages; more: {pager.has_more})")

        async with kw.realtime() as rt:
            await rt.subscribe([], ["00", "04"], grp_no="1")
            await rt.subscribe(["005930"], ["0B"], grp_no="2")
            ack = await kw.order.buy(
                "005930", qty=10, price=None, trde_tp="3", idempotency_key="demo-1"
            )
            again = await kw.order.buy(
                "005930", qty=10, price=None, trde_tp="3", idempotency_key="demo-1"
            )
            print(f"\nmarket buy 10 x 005930 -> order number {ack.ord_no}")
            print(f"same idempotency key again -> {again.ord_no} (replayed: {again.replayed})")
            ticks = 3 if quick else 10
            fills = 0
            print("realtime events:")
            async with asyncio.timeout(10):
                async for event in rt:
                    if isinstance(event, Connected):
                        continue
                    if isinstance(event, OrderFill):
                        print(
                            f"  fill   order {event.order_no} {event.order_status}: "
                            f"{event.fill_qty or 0} @ {event.fill_price or '-'}"
                        )
                        fills += event.fill_qty is not None
                    elif isinstance(event, StockTrade):
                        print(
                            f"  tick   {event.item} {event.time} price {event.price:,} "
                            f"({event.change_rate:+.2f}%) volume {event.volume}"
                        )
                        ticks -= 1
                    if fills and ticks <= 0:
                        break
        requests = sum(sim.stats.requests_by_api_id.values())
        print(
            f"\ndone: {sim.stats.token_issues} token, {requests} requests, "
            f"{len(sim.orders)} order placed, {sim.stats.rate_limit_rejections} rejected"
        )
