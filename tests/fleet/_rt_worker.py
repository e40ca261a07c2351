"""A realtime consumer process of the fleet, for the failover test.

``python _rt_worker.py BASE_URL WS_URL REDIS_URL CONSUMER`` subscribes to fills (00) through
the fleet, prints ``ready``, then one JSON line per fill; it runs until killed or until its
stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from kiwoom_async import Kiwoom
from kiwoom_async.models.realtime import OrderFill

LEASE = 1.0


async def main(base_url: str, ws_url: str, redis_url: str, consumer: str) -> None:
    kw = Kiwoom(
        "fleet-appkey-0123456789abcdef",
        "fleet-secretkey-9876543210fedcba",
        base_url=base_url,
        ws_url=ws_url,
        redis_url=redis_url,
    )
    async with kw, kw.realtime(consumer=consumer, lease=LEASE) as rt:
        await rt.subscribe([], ["00"])
        print("ready", flush=True)
        stdin_closed = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

        async def fills() -> None:
            async for event in rt:
                if isinstance(event, OrderFill):
                    print(json.dumps({"fill": str(event.order_no)}), flush=True)

        reader = asyncio.ensure_future(fills())
        await asyncio.wait([reader, stdin_closed], return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
