"""Fleet: N processes on one app key against a simulator that allows L requests/s per key
(sliding one-second window) and kills the previous token whenever it issues a new one.

Each process is told the same budget (``RateLimits(per_key=L)``) and calls ka10004 from four
tasks as fast as it is let, retries on a rate-limit answer off, so every rejection counts.
With ``redis_url`` (the fleet) the processes share one token and one budget; without it
("alone") each spends L on its own, which is what the fleet is for. Figures per N: tokens
issued, rate-limit rejections, combined accepted rate / L between the fleet's first and last
answer (target: 1 token, 0 rejections, >= 0.95). The simulator runs in this process, the
clients in N others; Redis is a redis-server of the benchmark's own on a free loopback port.

Run: ``python benchmarks/bench_fleet.py`` (``--smoke``: N = 2, 4 for 1.5 s, fleet only).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import APPKEY, SECRETKEY, median, parser, table, write_result

from kiwoom_async import Kiwoom, KiwoomError, RateLimitError, RateLimits, RetryPolicy
from kiwoom_async.testing import Simulator

TASKS = 4


# --- one client process -----------------------------------------------------------------


async def worker(options: dict[str, Any]) -> dict[str, Any]:
    kw = Kiwoom(
        APPKEY,
        SECRETKEY,
        base_url=options["base_url"],
        rate_limits=RateLimits(per_key=options["limit"]),
        retry=RetryPolicy(rate_limit_retries=0),
        redis_url=options["redis_url"],
    )
    accepted: list[float] = []
    rejected = errors = 0
    async with kw:
        await kw.tokens.token()  # the token request is not a TR call: keep it off the clock
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        deadline = time.monotonic() + options["duration"]

        async def calls() -> None:
            nonlocal rejected, errors
            while time.monotonic() < deadline:
                try:
                    await kw.rest.call("ka10004", {"stk_cd": "005930"})
                    accepted.append(time.monotonic())
                except RateLimitError:
                    rejected += 1
                except KiwoomError:
                    errors += 1  # alone: mostly a token budget spent on tokens killed by others
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(calls() for _ in range(TASKS)))
    return {"accepted": accepted, "rejected": rejected, "errors": errors}


# --- the run ----------------------------------------------------------------------------


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server")
    assert server is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", str(directory)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("redis-server did not start")


async def one_round(n: int, limit: float, duration: float, redis_url: str | None) -> dict[str, Any]:
    async with Simulator(
        rate_limit=limit, reissue_invalidates_old=True, tick_interval=0, ping_interval=0
    ) as sim:
        option = json.dumps(
            {"base_url": sim.base_url, "redis_url": redis_url, "limit": limit,
             "duration": duration}
        )  # fmt: skip
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                option,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(n)
        ]
        for proc in procs:
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        outputs = [await proc.communicate() for proc in procs]
        if any(proc.returncode for proc in procs):
            raise RuntimeError("a worker failed")
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
        times = sorted(t for r in results for t in r["accepted"])
        # As the server sees it: answers between the fleet's first and last one.
        inside = times
        span = inside[-1] - inside[0] if len(inside) > 1 else 0.0
        return {
            "tokens": sim.stats.token_issues,
            "rejected": sim.stats.rate_limit_rejections,
            "errors": sum(r["errors"] for r in results),
            "accepted": len(times),
            "rate_over_limit": (len(inside) - 1) / span / limit if span > 0 else 0.0,
        }


async def run(args: Any, redis_url: str) -> dict[str, Any]:
    rows: list[list[object]] = []
    figures: dict[str, Any] = {}
    modes = [("fleet", redis_url)] if args.smoke else [("fleet", redis_url), ("alone", None)]
    for n in args.processes:
        for mode, url in modes:
            rounds = [
                await one_round(n, args.limit, args.duration, url) for _ in range(args.rounds)
            ]
            ratios = [r["rate_over_limit"] for r in rounds]
            figure = {
                "tokens": median([r["tokens"] for r in rounds]),
                "rejected": median([r["rejected"] for r in rounds]),
                "errors": median([r["errors"] for r in rounds]),
                "rate_over_limit": median(ratios),
                "rate_over_limit_min": min(ratios),
                "rate_over_limit_max": max(ratios),
                "rounds": rounds,
            }
            figures[f"{mode}-{n}"] = figure
            rows.append([
                n, mode, figure["tokens"], figure["rejected"], figure["errors"],
                figure["rate_over_limit"], f"{min(ratios):.2f}–{max(ratios):.2f}",
            ])  # fmt: skip
    headers = ["N", "mode", "tokens", "rejections", "errors", "rate / L", "spread"]
    print(table(f"Fleet on one key, L = {args.limit:g}/s, {args.duration:g} s, "
                f"median of {args.rounds}", headers, rows))  # fmt: skip
    return figures


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    p.add_argument("--limit", type=float, default=10.0, help="the simulator's per-key limit L")
    p.add_argument("--duration", type=float, default=None, help="seconds per round")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--worker", help=argparse_hidden())
    args = p.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(json.loads(args.worker)))), flush=True)
        return
    args.processes = args.processes or ([2, 4] if args.smoke else [2, 4, 8])
    args.duration = args.duration or (1.5 if args.smoke else 8.0)
    args.rounds = args.rounds or (1 if args.smoke else 3)
    if shutil.which("redis-server") is None:
        print("bench_fleet: redis-server not found (apt-get install redis-server); skipped")
        sys.exit(1 if os.environ.get("CI") else 0)
    with tempfile.TemporaryDirectory() as directory:
        redis, url = start_redis(Path(directory))
        try:
            figures = asyncio.run(run(args, url))
        finally:
            redis.terminate()
            redis.wait(10)
    if not args.smoke:
        path = write_result("fleet", {"limit": args.limit, "duration": args.duration,
                                      "figures": figures})  # fmt: skip
        print(f"\nresults: {path}")


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
