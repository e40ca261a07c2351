"""`python -m kiwoom_async sim` serves the simulator on its own; the client talks to it."""

from __future__ import annotations

import asyncio
import sys

from kiwoom_async import Kiwoom
from tests.conftest import seconds


async def test_the_standalone_simulator_serves_rest_and_realtime() -> None:
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "kiwoom_async", "sim", "--port", "0", "--rate-limit", "50"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        async with asyncio.timeout(seconds(10)):
            base_url = (await server.stdout.readline()).decode().split()[-1]
            ws_url = (await server.stdout.readline()).decode().split()[-1]
        assert base_url.startswith("http://127.0.0.1:") and ws_url.startswith("ws://127.0.0.1:")
        async with Kiwoom("k", "s", base_url=base_url, ws_url=ws_url) as kw:
            book = await kw.quote.orderbook("005930")
            assert book.sel_fpr_bid and book.sel_fpr_bid > 0
            async with kw.realtime() as rt:
                await rt.wait_ready(timeout=seconds(5))
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), seconds(10))
