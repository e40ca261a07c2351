"""Poll the order books of many stocks at exactly the server's budget.

Runs against the embedded simulator (enforcing 5 requests/s per app key); against the real
API, drop the Simulator and pass your keys with env="real" or "mock".
"""

from __future__ import annotations

import asyncio
import time

from kiwoom_async import Kiwoom
from kiwoom_async.testing import Simulator

CODES = [f"{n:06d}" for n in range(5930, 5930 + 20)]


async def main() -> None:
    async with (
        Simulator(rate_limit=5) as sim,
        Kiwoom("appkey", "secretkey", base_url=sim.base_url, requests_per_second=5) as kw,
    ):
        started = time.perf_counter()
        books = await kw.rest.call_many(
            [("ka10004", {"stk_cd": code}) for code in CODES], concurrency=20
        )
        elapsed = time.perf_counter() - started
        for code, book in zip(CODES, books, strict=True):
            print(code, book.body["sel_fpr_bid"], book.body["buy_fpr_bid"])
        print(
            f"{len(CODES)} calls in {elapsed:.2f} s = {len(CODES) / elapsed:.2f}/s, "
            f"{sim.stats.rate_limit_rejections} rejected by the server"
        )


if __name__ == "__main__":
    asyncio.run(main())
