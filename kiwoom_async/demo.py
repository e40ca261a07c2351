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


def _price(raw: object) -> str:
    text = str(raw)
    return f"{int(text.lstrip('+-') or 0):>9,}"


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
        books = await kw.rest.call_many([("ka10004", {"stk_cd": code}) for code in CODES])
        elapsed = time.perf_counter() - started
        print(f"\norder books of {len(CODES)} stocks, concurrently ({elapsed:.2f} s at 5 req/s)")
        print("  code        best ask   best bid")
        for code, book in zip(CODES, books, strict=True):
            ask, bid = book.body["sel_fpr_bid"], book.body["buy_fpr_bid"]
            print(f"  {code}   {_price(ask)}  {_price(bid)}")

        print("\ndaily prices of 005930, every page (ka10086, cont-yn/next-key)")
        body = {"stk_cd": "005930", "qry_dt": "20241125", "indc_tp": "0"}
        async for page in kw.rest.paginate("ka10086", body, max_pages=3):
            rows = page.body.get("daly_stkpc", [])
            first, last = rows[0]["date"], rows[-1]["date"]
            more = "more" if page.cont_yn else "last"
            print(f"  page: {len(rows)} rows {first}..{last}  ({more})")

        async with kw.realtime() as rt:
            await rt.subscribe([], ["00", "04"], grp_no="1")
            await rt.subscribe(["005930"], ["0B"], grp_no="2")
            order = {
                "dmst_stex_tp": "KRX",
                "stk_cd": "005930",
                "ord_qty": "10",
                "ord_uv": "",
                "trde_tp": "3",
            }
            ack = await kw.rest.call("kt10000", order)
            print(f"\nmarket buy 10 x 005930 -> order number {ack.body['ord_no']}")
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
        print(
            f"\ndone: {sim.stats.token_issues} token, {sum(sim.stats.requests_by_api_id.values())} "
            f"requests, {sim.stats.rate_limit_rejections} rejected"
        )
