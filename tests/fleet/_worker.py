"""One process of a fleet, for the multi-process tests and the benchmark.

``python _worker.py '<json>'`` builds a Kiwoom on the simulator and Redis the JSON names,
prints ``ready``, waits for a line on stdin (so that every process starts at once), then
makes ``calls`` query calls over ``concurrency`` tasks and, given ``order_key``, places one
market order under that idempotency key. Its last line on stdout is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from kiwoom_async import (
    IdempotencyError,
    Kiwoom,
    KiwoomError,
    RateLimitError,
    RateLimits,
    RetryPolicy,
)


async def main(options: dict[str, Any]) -> dict[str, Any]:
    limits = RateLimits(per_key=options["per_key"], margin=options.get("margin", 0.015))
    kw = Kiwoom(
        options.get("appkey", "fleet-appkey-0123456789abcdef"),
        "fleet-secretkey-9876543210fedcba",
        base_url=options["base_url"],
        rate_limits=limits,
        retry=RetryPolicy(rate_limit_retries=0),
        redis_url=options.get("redis_url"),
    )
    summary: dict[str, Any] = {"ok": 0, "rate_limited": 0, "errors": [], "order": None}
    async with kw:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started = time.monotonic()
        remaining = options.get("calls", 0)

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    await kw.rest.call("ka10004", {"stk_cd": "005930"})
                    summary["ok"] += 1
                except RateLimitError:
                    summary["rate_limited"] += 1
                except KiwoomError as exc:
                    summary["errors"].append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(caller() for _ in range(options.get("concurrency", 4))))
        summary["seconds"] = time.monotonic() - started
        if options.get("order_key"):
            try:
                ack = await kw.order.buy(
                    "005930", qty=1, price=None, trde_tp="3", idempotency_key=options["order_key"]
                )
                summary["order"] = "replayed" if ack.replayed else f"sent {ack.ord_no}"
            except IdempotencyError as exc:
                summary["order"] = f"refused: {type(exc).__name__}"
            except KiwoomError as exc:
                summary["order"] = f"failed: {type(exc).__name__}: {exc}"
        summary["tokens_issued_here"] = kw.tokens.issued
    return summary


if __name__ == "__main__":
    result = asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps(result), flush=True)
