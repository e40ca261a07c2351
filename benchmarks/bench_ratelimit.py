"""Rate adherence: the simulator enforces N requests/s per app key (sliding one-second window)
and the client is set to N (``requests_per_second=N``). Eight workers call ka10004 as fast as
the client lets them for ``--duration`` seconds; retries on a rate-limit answer are off, so
every rejection is counted instead of hidden. Target: achieved >= 0.98 N, zero rejections.

Run: ``python benchmarks/bench_ratelimit.py`` (``--smoke``: 2 s per rate).
"""

from __future__ import annotations

import asyncio
import time

from _common import APPKEY, SECRETKEY, parser, simulator, table, write_result

from kiwoom_async import Kiwoom, RateLimitError, RetryPolicy

API_ID = "ka10004"
BODY = {"stk_cd": "005930"}
WORKERS = 8


async def run(base_url: str, rate: float, duration: float) -> dict[str, float]:
    retry = RetryPolicy(rate_limit_retries=0)
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, requests_per_second=rate, retry=retry)
    ok = rejected = 0
    done: list[float] = []
    async with kw:
        await kw.tokens.token()  # the token request is not a TR call: keep it off the clock
        start = time.monotonic()
        deadline = start + duration

        async def worker() -> None:
            nonlocal ok, rejected
            while time.monotonic() < deadline:
                try:
                    await kw.rest.call(API_ID, BODY)
                except RateLimitError:
                    rejected += 1
                else:
                    ok += 1
                done.append(time.monotonic())

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        elapsed = time.monotonic() - start
    # Steady-state rate as the server sees it: answers between the first and the last one
    # (response time is the same at both ends, so it cancels out).
    span = done[-1] - done[0] if len(done) > 1 else 0.0
    achieved = (len(done) - 1) / span if span > 0 else 0.0
    return {
        "rate": rate,
        "duration_s": elapsed,
        "calls_ok": ok,
        "rejected": rejected,
        "achieved_per_s": achieved,
        "adherence": achieved / rate,
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rates", default="5,20", help="comma-separated N values")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per rate")
    args = p.parse_args()
    if args.smoke:
        args.duration = 2.0
        args.rates = args.rates.split(",")[0]
    results = []
    for rate in [float(r) for r in args.rates.split(",")]:
        with simulator("--rate-limit", f"{rate:g}") as server:
            results.append(asyncio.run(run(server.base_url, rate, args.duration)))
    print(
        table(
            f"Rate adherence over {args.duration:g} s per rate ({WORKERS} workers, ka10004)",
            ["server N/s", "client N/s", "calls", "achieved/s", "÷ N", "rejections"],
            [
                [
                    r["rate"],
                    r["rate"],
                    int(r["calls_ok"] + r["rejected"]),
                    r["achieved_per_s"],
                    r["adherence"],
                    int(r["rejected"]),
                ]
                for r in results
            ],
        )
    )
    path = write_result("ratelimit", {"params": vars(args), "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
