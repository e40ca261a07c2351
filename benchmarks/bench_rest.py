"""REST throughput and client CPU per call: kiwoom_async vs a raw aiohttp loop (the floor).

The simulator runs in another process with its rate limit, PINGs and ticks off. Both clients
post ka10004 with the same headers and body; the floor is one ``aiohttp.ClientSession``
doing ``await resp.read()`` and a msgspec JSON decode, checking ``return_code``. kiwoom_async
runs with client-side limiting off (``requests_per_second=None``). At each concurrency the two
are alternated (floor, ours, floor, ours...) and the medians reported; CPU is
``time.process_time()`` of this (client) process.

Run: ``python benchmarks/bench_rest.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec
from _common import (
    APPKEY,
    SECRETKEY,
    Clock,
    Server,
    median,
    parser,
    ratio,
    simulator,
    table,
    write_result,
)

from kiwoom_async import Kiwoom
from kiwoom_async.registry import lookup

API_ID = "ka10004"
BODY = {"stk_cd": "005930"}
_decode = msgspec.json.decode


async def _spread(n: int, c: int, one: Callable[[], Awaitable[None]]) -> None:
    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(worker(n // c + (i < n % c)) for i in range(c)))


async def measure(
    server: Server, concurrencies: list[int], calls: dict[int, int], rounds: int
) -> dict[str, dict[int, list[tuple[float, float, float | None]]]]:
    """(calls/s, CPU µs per call, server CPU share) per client, concurrency and round."""
    out: dict[str, dict[int, list[tuple[float, float, float | None]]]] = {
        "floor": {c: [] for c in concurrencies},
        "kiwoom_async": {c: [] for c in concurrencies},
    }
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=server.base_url, requests_per_second=None)
    async with kw, aiohttp.ClientSession() as http:
        token = await kw.tokens.token()
        url = server.base_url + lookup(API_ID).path
        headers = {
            "api-id": API_ID,
            "authorization": "Bearer " + token,
            "Content-Type": "application/json;charset=UTF-8",
            "cont-yn": "N",
            "next-key": "",
        }
        payload = msgspec.json.encode(BODY)

        async def floor_call() -> None:
            async with http.post(url, data=payload, headers=headers) as resp:
                raw = await resp.read()
            if _decode(raw).get("return_code") != 0:
                raise RuntimeError(f"floor call failed: {raw[:200]!r}")

        call = kw.rest.call

        async def our_call() -> None:
            await call(API_ID, BODY)

        clients = {"floor": floor_call, "kiwoom_async": our_call}
        for round_no in range(rounds + 1):  # round 0 warms connections and code paths up
            for c in concurrencies:
                for name, one in clients.items():
                    n = calls[c] if round_no else max(c, calls[c] // 10)
                    clock = Clock()
                    server_cpu0 = server.cpu_seconds()
                    clock.start()
                    await _spread(n, c, one)
                    clock.stop()
                    server_cpu1 = server.cpu_seconds()
                    share = None
                    if server_cpu0 is not None and server_cpu1 is not None:
                        share = (server_cpu1 - server_cpu0) / clock.wall
                    if round_no:
                        out[name][c].append((n / clock.wall, clock.cpu / n * 1e6, share))
    return out


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=2_000, help="calls per measurement at c=1")
    p.add_argument("--concurrency", default="1,8,64")
    args = p.parse_args()
    if args.smoke:
        args.rounds, args.calls = 1, 40
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    calls = {c: args.calls if c == 1 else args.calls * 2 for c in concurrencies}
    with simulator() as server:
        data = asyncio.run(measure(server, concurrencies, calls, args.rounds))

    rows = []
    results = []
    for c in concurrencies:
        f_rate = median([r[0] for r in data["floor"][c]])
        o_rate = median([r[0] for r in data["kiwoom_async"][c]])
        f_cpu = median([r[1] for r in data["floor"][c]])
        o_cpu = median([r[1] for r in data["kiwoom_async"][c]])
        shares = [r[2] for r in data["floor"][c] + data["kiwoom_async"][c] if r[2] is not None]
        server_share = median(shares) if shares else float("nan")
        results.append(
            {
                "concurrency": c,
                "floor_calls_per_s": f_rate,
                "ours_calls_per_s": o_rate,
                "rate_ratio": ratio(o_rate, f_rate),
                "floor_cpu_us_per_call": f_cpu,
                "ours_cpu_us_per_call": o_cpu,
                "cpu_ratio": ratio(o_cpu, f_cpu),
                "server_cpu_share": server_share,
                "runs": {name: data[name][c] for name in data},
            }
        )
        rows.append(
            [
                c,
                f_rate,
                o_rate,
                ratio(o_rate, f_rate),
                f_cpu,
                o_cpu,
                ratio(o_cpu, f_cpu),
                f"{server_share:.0%}" if server_share == server_share else "-",
            ]
        )
    print(
        table(
            f"REST {API_ID}: median of {args.rounds} alternated rounds "
            f"({calls[concurrencies[0]]:,} calls at c=1, {args.calls * 2:,} above)",
            [
                "concurrency",
                "floor calls/s",
                "ours calls/s",
                "ratio",
                "floor CPU µs/call",
                "ours CPU µs/call",
                "CPU ratio",
                "server CPU",
            ],
            rows,
        )
    )
    path = write_result(
        "rest",
        {
            "params": {
                "api_id": API_ID,
                "rounds": args.rounds,
                "calls": calls,
                "smoke": args.smoke,
            },
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
