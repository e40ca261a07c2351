"""Pagination: pages/s and client CPU per page of a 50-page TR (ka10086, simulator
``--pages 50``) through ``RestSession.paginate`` vs a raw aiohttp loop that follows the
``cont-yn``/``next-key`` response headers itself. Alternated rounds, medians.

Run: ``python benchmarks/bench_pagination.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
from _common import APPKEY, SECRETKEY, Clock, median, parser, ratio, simulator, table, write_result

from kiwoom_async import Kiwoom
from kiwoom_async.registry import lookup

API_ID = "ka10086"
BODY = {"stk_cd": "005930", "qry_dt": "20241125", "indc_tp": "0"}
_decode = msgspec.json.decode


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--walks", type=int, default=20, help="full walks per measurement")
    p.add_argument("--pages", type=int, default=50)
    args = p.parse_args()
    if args.smoke:
        args.rounds, args.walks, args.pages = 1, 2, 5
    with simulator("--pages", str(args.pages)) as server:
        runs = asyncio.run(measure(server.base_url, args.pages, args.walks, args.rounds))

    f_rate = median([r[0] for r in runs["floor"]])
    o_rate = median([r[0] for r in runs["kiwoom_async"]])
    f_cpu = median([r[1] for r in runs["floor"]])
    o_cpu = median([r[1] for r in runs["kiwoom_async"]])
    print(
        table(
            f"Pagination {API_ID}: {args.pages}-page walks, {args.walks} walks per measurement, "
            f"median of {args.rounds} alternated rounds",
            ["client", "pages/s", "ratio", "CPU µs/page", "CPU ratio"],
            [
                ["raw aiohttp (floor)", f_rate, 1.0, f_cpu, 1.0],
                [
                    "kiwoom_async paginate",
                    o_rate,
                    ratio(o_rate, f_rate),
                    o_cpu,
                    ratio(o_cpu, f_cpu),
                ],
            ],
        )
    )
    path = write_result(
        "pagination",
        {
            "params": vars(args) | {"api_id": API_ID},
            "results": {
                "floor_pages_per_s": f_rate,
                "ours_pages_per_s": o_rate,
                "rate_ratio": ratio(o_rate, f_rate),
                "floor_cpu_us_per_page": f_cpu,
                "ours_cpu_us_per_page": o_cpu,
                "cpu_ratio": ratio(o_cpu, f_cpu),
                "runs": runs,
            },
        },
    )
    print(f"\nwrote {path}")


async def measure(
    base_url: str, pages: int, walks: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"floor": [], "kiwoom_async": []}
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, requests_per_second=None)
    async with kw, aiohttp.ClientSession() as http:
        token = await kw.tokens.token()
        url = base_url + lookup(API_ID).path
        payload = msgspec.json.encode(BODY)

        async def floor_walk() -> int:
            key = ""
            count = 0
            while True:
                headers = {
                    "api-id": API_ID,
                    "authorization": "Bearer " + token,
                    "Content-Type": "application/json;charset=UTF-8",
                    "cont-yn": "Y" if key else "N",
                    "next-key": key,
                }
                async with http.post(url, data=payload, headers=headers) as resp:
                    raw = await resp.read()
                    more = resp.headers.get("cont-yn") == "Y"
                    key = resp.headers.get("next-key", "")
                if _decode(raw).get("return_code") != 0:
                    raise RuntimeError(f"floor page failed: {raw[:200]!r}")
                count += 1
                if not (more and key):
                    return count

        async def our_walk() -> int:
            return len(await kw.rest.paginate(API_ID, BODY))

        walkers = {"floor": floor_walk, "kiwoom_async": our_walk}
        for round_no in range(rounds + 1):
            for name, walk in walkers.items():
                clock = Clock()
                clock.start()
                total = 0
                for _ in range(walks if round_no else 1):
                    total += await walk()
                clock.stop()
                if total % pages:
                    raise RuntimeError(f"{name}: {total} pages, not whole walks of {pages}")
                if round_no:
                    out[name].append((total / clock.wall, clock.cpu / total * 1e6))
    return out


if __name__ == "__main__":
    main()
