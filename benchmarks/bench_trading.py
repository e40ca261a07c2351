"""Live trades: what the trading session adds to a 00 fill event, in latency and CPU.

The server (a subprocess: this script with ``--serve``, on the blast server's protocol)
pushes REAL 00 fills for orders 1, 2, 3 ... (ten one-share fills each, every fill numbered,
its cumulative quantity rising), with its send time (time.monotonic_ns) in FID 908. Two
clients read them, in alternated rounds:

- ``raw``: ``kw.realtime()`` subscribed to 00, reading each event's fill quantity: the
  raw event delivered (the baseline);
- ``trading``: ``kw.trading()`` holding a trade for every order, each event applied to it
  and delivered as a ``TradeUpdate`` through ``trading.updates()``.

CPU is ``time.process_time()`` of the client over a blast (as fast as the server writes),
per event, median of the rounds; latency (send to delivery) is measured at ``--rate`` frames/s
and the added latency is the trading client's minus the raw client's.

Run: ``python benchmarks/bench_trading.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
from _common import (
    APPKEY,
    SECRETKEY,
    Clock,
    Server,
    median,
    parser,
    percentile,
    ratio,
    table,
    write_result,
)
from _frames import ORDER_VALUES

from kiwoom_async import Kiwoom
from kiwoom_async.models.realtime import OrderFill
from kiwoom_async.trading import OrderSpec

FILLS_PER_ORDER = 10
START_DELAY = 0.3
"""Seconds between the REG answer and the first fill."""
_encode = msgspec.json.Encoder().encode


def fill_frame(index: int, stamp: int) -> bytes:
    """The ``index``-th fill: order ``index // 10 + 1``, one share, numbered ``index + 1``."""
    cumulative = index % FILLS_PER_ORDER + 1
    values = dict(ORDER_VALUES)
    values.update(
        {
            "9203": f"{index // FILLS_PER_ORDER + 1:07d}",
            "900": str(FILLS_PER_ORDER),
            "902": str(FILLS_PER_ORDER - cumulative),
            "903": str(cumulative * 70_000),
            "908": str(stamp),
            "909": f"{index + 1:07d}",
            "911": str(cumulative),
            "915": "1",
        }
    )
    data = [{"type": "00", "name": "주문체결", "item": "", "values": values}]
    return _encode({"trnm": "REAL", "data": data})


# --- the server ------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _blast_server as blast

    class FillServer(blast.Protocol):
        def _on_ws(self, opcode: int, payload: bytes) -> None:
            if opcode == 0x1 and msgspec.json.decode(payload).get("trnm") == "REG":
                self.send(b'{"trnm":"REG","return_code":0,"return_msg":""}')
                if self.task is None or self.task.done():
                    loop = asyncio.get_running_loop()
                    self.task = loop.create_task(self._fills(self.args.frames))
                return
            super()._on_ws(opcode, payload)

        async def _fills(self, count: int) -> None:
            transport = self.transport
            assert transport is not None
            rate = self.args.rate if self.args.mode == "rate" else 0.0
            # The trading client reads its first snapshot after REG, then listens.
            await asyncio.sleep(START_DELAY)
            start = time.monotonic()
            for index in range(count):
                if transport.is_closing():
                    return
                transport.write(blast.ws_frame(fill_frame(index, time.monotonic_ns())))
                if rate:
                    await asyncio.sleep(max(0.0, start + (index + 1) / rate - time.monotonic()))
                elif not self.can_write.is_set():
                    await self.can_write.wait()
                elif index % 256 == 255:
                    await asyncio.sleep(0)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: FillServer(args), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"base_url http://127.0.0.1:{port}", flush=True)
        print(f"ws_url   ws://127.0.0.1:{port}/api/dostk/websocket", flush=True)
        async with server:
            await asyncio.Event().wait()

    asyncio.run(run())


def fill_server(*options: str) -> Server:
    return Server([sys.executable, str(Path(__file__).resolve()), "--serve", *options])


# --- the two clients: each returns (events, clock, latencies in µs) ---------------------------


def _client(base_url: str, ws_url: str) -> Kiwoom:
    return Kiwoom(APPKEY, SECRETKEY, base_url=base_url, ws_url=ws_url, requests_per_second=None)


async def run_raw(base_url: str, ws_url: str, n: int) -> tuple[int, Clock, list[float]]:
    clock, latencies = Clock(), []
    count = total = 0
    async with _client(base_url, ws_url) as kw, kw.realtime(queue_size=n + 100) as rt:
        await rt.wait_ready()
        clock.start()
        await rt.subscribe([], ["00"], grp_no="9999")
        async for event in rt:
            if type(event) is not OrderFill:
                continue
            total += event.unit_fill_qty or 0
            latencies.append((time.monotonic_ns() - int(event.values.f908)) / 1e3)
            count += 1
            if count >= n:
                break
        clock.stop()
    assert total == n
    return count, clock, latencies


async def run_trading(base_url: str, ws_url: str, n: int) -> tuple[int, Clock, list[float]]:
    clock, latencies = Clock(), []
    count = 0
    async with _client(base_url, ws_url) as kw:
        trading = kw.trading(account_queue_size=n + 100)
        book = trading.book
        for order in range(n // FILLS_PER_ORDER + 1):
            spec = OrderSpec(stk_cd="005930", side="buy", qty=FILLS_PER_ORDER, price=70_000)
            book.bind(book.open_trade(spec, "20250908"), f"{order + 1:07d}")
            book.settle_inflight()
        book.updates.clear()
        clock.start()
        async with trading:
            async for update in trading.updates():
                fill = update.fill
                if fill is None:
                    continue
                latencies.append((time.monotonic_ns() - int(fill.time)) / 1e3)
                count += 1
                if count >= n:
                    break
            clock.stop()
        assert sum(t.filled_qty for t in trading.trades()) == n
    return count, clock, latencies


CLIENTS = {"raw": run_raw, "trading": run_trading}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=("blast", "rate"), default="blast", help=argparse.SUPPRESS)
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rate", type=float, default=2_000.0, help="frames/s for the latency run")
    p.add_argument("--latency-seconds", type=float, default=5.0)
    args = p.parse_args()
    if args.serve:
        serve(args)
        return
    if args.smoke:
        args.frames, args.rounds, args.latency_seconds = 1_000, 1, 0.5
    n = args.frames
    cpu: dict[str, list[float]] = {name: [] for name in CLIENTS}
    with fill_server("--frames", str(n)) as server:
        for round_no in range(args.rounds + 1):  # round 0 warms up
            for name, client in CLIENTS.items():
                count, clock, _ = asyncio.run(client(server.base_url, server.ws_url, n))
                if round_no:
                    cpu[name].append(clock.cpu / count * 1e6)
    n_latency = max(100, int(args.rate * args.latency_seconds))
    latency: dict[str, dict[str, float]] = {}
    options = ("--mode", "rate", "--rate", str(args.rate), "--frames", str(n_latency))
    with fill_server(*options) as server:
        for name, client in CLIENTS.items():
            _, _, samples = asyncio.run(client(server.base_url, server.ws_url, n_latency))
            samples = samples[min(200, n_latency // 10) :]  # warm-up
            latency[name] = {"p50_us": percentile(samples, 50), "p99_us": percentile(samples, 99)}
    raw, ours = latency["raw"], latency["trading"]
    added = {key: ours[key] - raw[key] for key in raw}
    cpu_ratio = ratio(median(cpu["trading"]), median(cpu["raw"]))
    ratios = [ratio(t, r) for t, r in zip(cpu["trading"], cpu["raw"], strict=True)]
    rows: list[list[Any]] = [
        [name, median(cpu[name]), latency[name]["p50_us"], latency[name]["p99_us"]]
        for name in CLIENTS
    ]
    rows.append(["added by trading", median(cpu["trading"]) - median(cpu["raw"]), *added.values()])
    print(
        table(
            f"Live trades: {n:,} 00 fills, CPU median of {args.rounds} alternated rounds; "
            f"latency at {args.rate:,.0f} fills/s",
            ["client", "CPU µs/event", "latency p50 µs", "p99 µs"],
            rows,
        )
    )
    print(
        f"\nCPU per event, trading ÷ raw: {cpu_ratio:.2f} "
        f"(rounds {min(ratios):.2f}–{max(ratios):.2f})"
    )
    path = write_result(
        "trading",
        {
            "params": {
                "frames": n,
                "rounds": args.rounds,
                "latency_rate": args.rate,
                "latency_frames": n_latency,
                "smoke": args.smoke,
            },
            "cpu_us_per_event": cpu,
            "cpu_ratio": cpu_ratio,
            "cpu_ratio_runs": ratios,
            "latency_us": latency,
            "added_latency_us": added,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
