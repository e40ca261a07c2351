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
        print(
            f"token       issued (접근토큰), valid until {kw.tokens.expires_at:%Y-%m-%d %H:%M} KST"
        )

        started = time.perf_counter()
        books = await asyncio.gather(*(kw.quote.orderbook(code) for code in CODES))
        elapsed = time.perf_counter() - started
        print(
            f"\norder books (호가, ka10004) of {len(CODES)} stocks, concurrently "
            f"({elapsed:.2f} s at 5 req/s)"
        )
        print("  code     best ask (매도호가)  best bid (매수호가)")
        for code, book in zip(CODES, books, strict=True):
            print(f"  {code}   {_krw(book.sel_fpr_bid):>18}  {_krw(book.buy_fpr_bid):>18}")

        print("\ndaily closes (종가) of 005930, page by page (ka10086; cont-yn/next-key headers)")
        pager = kw.quote.daily_prices("005930", qry_dt="20241125", indc_tp="0", max_pages=3)
        async for page in pager:
            closes = ", ".join(
                f"{_date(row.date)} {_krw(row.close_pric)}" for row in page.daly_stkpc
            )
            print(f"  page {pager.pages_fetched}: {closes}")
        print(f"  ({pager.pages_fetched} pages; more on the server: {_yes(pager.has_more)})")

        async with kw.realtime() as rt:
            await rt.subscribe([], ["00", "04"], grp_no="1")
            await rt.subscribe(["005930"], ["0B"], grp_no="2")
            ack = await kw.order.buy(
                "005930", qty=10, price=None, trde_tp="3", idempotency_key="demo-1"
            )
            again = await kw.order.buy(
                "005930", qty=10, price=None, trde_tp="3", idempotency_key="demo-1"
            )
            print(f"\nmarket buy (시장가 매수) 10 x 005930 -> order number {ack.ord_no}")
            print(
                f"same idempotency key again -> order {again.ord_no}, "
                f"replayed: {_yes(again.replayed)} (nothing sent twice)"
            )
            ticks = 3 if quick else 10
            fills = 0
            print("realtime events (실시간): trades 0B of 005930, then the order's own events 00")
            async with asyncio.timeout(10):
                async for event in rt:
                    if isinstance(event, Connected):
                        continue
                    if isinstance(event, OrderFill):
                        print(f"  order  {_order_event(event)}")
                        fills += bool(event.fill_qty)
                    elif isinstance(event, StockTrade):
                        print(f"  trade  {_trade(event)}")
                        ticks -= 1
                    if fills and ticks <= 0:
                        break
        requests = sum(sim.stats.requests_by_api_id.values())
        print(
            f"\ndone: {sim.stats.token_issues} token, {requests} requests, "
            f"{len(sim.orders)} order placed, "
            f"{sim.stats.rate_limit_rejections} requests refused by the rate limit"
        )


def _krw(value: int | None) -> str:
    return "-" if value is None else f"{value:,} KRW"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _date(text: str) -> str:
    """YYYYMMDD as YYYY-MM-DD, the way every date of the demo is shown."""
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 else text


def _clock(text: str) -> str:
    return f"{text[:2]}:{text[2:4]}:{text[4:6]}" if len(text) == 6 else text


def _trade(event: StockTrade) -> str:
    # The server signs a trade's volume: + when a buyer took the ask, - when a seller hit
    # the bid. The size is the magnitude; the sign says who initiated it.
    volume = event.volume or 0
    side = "buyer-initiated" if volume >= 0 else "seller-initiated"
    return (
        f"{event.item} at {_clock(event.time)} KST: {abs(volume):,} shares @ "
        f"{_krw(event.price)} ({event.change_rate or 0:+.2f}% on the day), {side}"
    )


def _order_event(event: OrderFill) -> str:
    status = _STATUS.get(event.order_status, event.order_status)
    # The order number as the REST answer showed it: seven digits, leading zeros kept.
    number = "-" if event.order_no is None else f"{event.order_no:07d}"
    if not event.fill_qty:
        return f"{number}: {status} ({event.order_status}), nothing filled yet"
    return (
        f"{number}: {status} ({event.order_status}), "
        f"{event.fill_qty:,} shares @ {_krw(event.fill_price)}"
    )


_STATUS = {"접수": "accepted", "체결": "filled", "확인": "confirmed", "취소": "cancelled"}
