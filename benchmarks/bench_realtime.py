"""Realtime throughput and latency: kiwoom_async typed events vs a raw websockets client.

Throughput: the blast server (another process) answers REG with N REAL frames, 0B and 0D
alternating, as fast as the socket drains. The clock starts just before REG is sent and stops
when the Nth event reaches user code. The clients, alternated round by round:

- kiwoom_async: ``RealtimeSession`` (on aiohttp's WebSocket client, ``decode_text=False``)
  -> typed events via ``async for``; reads ``event.price`` on 0B and ``event.ask_price_1``
  on 0D;
- floor: ``websockets`` (compression=None, max_queue=1024) + msgspec decode into a Struct,
  the same two fields read from ``values`` and parsed the same way;
- json baseline: the same websockets client with ``json.loads``;
- a reference beyond the two baselines: aiohttp's WebSocket client as it comes (text decoded
  to ``str``, one ``receive()`` per frame) + the same msgspec Struct decode.

Latency: a second server sends frames at a fixed rate with its send time (CLOCK_MONOTONIC,
shared by every process on the machine) in the trade / quote time FID; the client records
now - stamp.

Run: ``python benchmarks/bench_realtime.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from _common import (
    APPKEY,
    SECRETKEY,
    Clock,
    blast_server,
    median,
    parser,
    percentile,
    ratio,
    table,
    write_result,
)
from _frames import ENVELOPE_DECODER, STAMP_FIDS, Envelope
from websockets.asyncio.client import connect

from kiwoom_async import Kiwoom
from kiwoom_async.models.realtime import OrderBookUpdate, RealtimeEvent, StockTrade

Sink = Callable[[int, int], None] | None
"""Receives (event index, latency ns) in latency mode."""

_REG = '{"trnm":"REG","grp_no":"1","refresh":"1","data":[{"item":["005930"],"type":["0B","0D"]}]}'


async def _token(base_url: str) -> str:
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, requests_per_second=None)
    return await kw.tokens.token()


# --- the three clients: each returns (events, clock) -------------------------------------


async def run_ours(
    base_url: str, ws_url: str, n: int, sink: Sink = None, types: tuple[str, ...] = ("0B", "0D")
) -> tuple[int, Clock]:
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, ws_url=ws_url, requests_per_second=None)
    clock = Clock()
    count = 0
    checksum = 0
    async with kw.realtime(queue_size=max(n, 10_000)) as rt:
        await rt.wait_ready()
        clock.start()
        await rt.subscribe(["005930"], list(types))
        async for event in rt:
            if not isinstance(event, RealtimeEvent):
                continue  # Connected and other lifecycle events
            if type(event) is StockTrade:
                checksum += event.price or 0
            elif type(event) is OrderBookUpdate:
                checksum += event.ask_price_1 or 0
            if sink is not None:
                sink(count, time.monotonic_ns() - int(event.values[STAMP_FIDS[event.type]]))
            count += 1
            if count >= n:
                break
        clock.stop()
        if rt.stats.queue.dropped:
            print(f"  note: kiwoom_async dropped {rt.stats.queue.dropped} events", file=sys.stderr)
    await kw.aclose()
    return count, clock


async def _raw(
    ws_url: str,
    token: str,
    n: int,
    decode: Callable[[bytes], list[dict[str, Any]] | None],
    sink: Sink,
) -> tuple[int, Clock]:
    clock = Clock()
    count = 0
    checksum = 0
    async with connect(ws_url, compression=None, max_queue=1024, ping_interval=None) as ws:
        await ws.send(json.dumps({"trnm": "LOGIN", "token": token}))
        await ws.recv()
        reg = {"trnm": "REG", "grp_no": "1", "refresh": "1"}
        reg["data"] = [{"item": ["005930"], "type": ["0B", "0D"]}]  # type: ignore[assignment]
        clock.start()
        await ws.send(json.dumps(reg))
        while count < n:
            items = decode(await ws.recv(decode=False))
            if items is None:
                continue
            for item in items:
                values = item["values"]
                kind = item["type"]
                if kind == "0B":
                    checksum += abs(int(values["10"]))
                elif kind == "0D":
                    checksum += abs(int(values["41"]))
                if sink is not None:
                    sink(count, time.monotonic_ns() - int(values[STAMP_FIDS[kind]]))
                count += 1
        clock.stop()
    return count, clock


async def _struct_loop(
    recv: Callable[[], Awaitable[Any]],
    decode: Callable[[Any], Envelope],
    n: int,
    sink: Sink,
) -> int:
    """The hand-written consumer of the msgspec clients: n events, two fields read."""
    count = 0
    checksum = 0
    while count < n:
        frame = decode(await recv())
        if frame.trnm != "REAL" or not frame.data:
            continue
        for item in frame.data:
            values = item.values
            if item.type == "0B":
                checksum += abs(int(values["10"]))
            elif item.type == "0D":
                checksum += abs(int(values["41"]))
            if sink is not None:
                sink(count, time.monotonic_ns() - int(values[STAMP_FIDS[item.type]]))
            count += 1
    return count


async def run_floor(base_url: str, ws_url: str, n: int, sink: Sink = None) -> tuple[int, Clock]:
    token = await _token(base_url)
    clock = Clock()
    async with connect(ws_url, compression=None, max_queue=1024, ping_interval=None) as ws:
        await ws.send(json.dumps({"trnm": "LOGIN", "token": token}))
        await ws.recv()
        clock.start()
        await ws.send(_REG)
        count = await _struct_loop(
            functools.partial(ws.recv, decode=False), ENVELOPE_DECODER.decode, n, sink
        )
        clock.stop()
    return count, clock


async def run_aiohttp(base_url: str, ws_url: str, n: int, sink: Sink = None) -> tuple[int, Clock]:
    token = await _token(base_url)
    clock = Clock()
    decode = ENVELOPE_DECODER.decode
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, autoping=False, max_msg_size=0) as ws,
    ):
        await ws.send_str(json.dumps({"trnm": "LOGIN", "token": token}))
        await ws.receive()
        clock.start()
        await ws.send_str(_REG)
        count = await _struct_loop(ws.receive, lambda message: decode(message.data), n, sink)
        clock.stop()
    return count, clock


def _json_items(raw: bytes) -> list[dict[str, Any]] | None:
    frame = json.loads(raw)
    if frame.get("trnm") != "REAL":
        return None
    data: list[dict[str, Any]] | None = frame.get("data")
    return data


async def run_json(base_url: str, ws_url: str, n: int, sink: Sink = None) -> tuple[int, Clock]:
    return await _raw(ws_url, await _token(base_url), n, _json_items, sink)


CLIENTS: dict[str, Callable[[str, str, int, Sink], Coroutine[Any, Any, tuple[int, Clock]]]] = {
    "kiwoom_async": run_ours,
    "websockets+msgspec (floor)": run_floor,
    "websockets+json.loads": run_json,
    "aiohttp+msgspec (reference)": run_aiohttp,
}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--frames", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rate", type=float, default=2_000.0, help="frames/s for the latency run")
    p.add_argument("--latency-seconds", type=float, default=5.0)
    args = p.parse_args()
    if args.smoke:
        args.frames, args.rounds, args.latency_seconds = 2_000, 1, 0.5
    n = args.frames

    names = list(CLIENTS)
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with blast_server("--frames", str(n)) as server:
        for round_no in range(args.rounds + 1):  # round 0 warms up
            for name in names:
                count, clock = asyncio.run(CLIENTS[name](server.base_url, server.ws_url, n, None))
                if round_no:
                    rates[name].append(count / clock.wall)
                    cpu[name].append(clock.cpu / count * 1e6)

    n_latency = max(1, int(args.rate * args.latency_seconds))
    latency: dict[str, dict[str, float]] = {}
    with blast_server("--mode", "rate", "--rate", str(args.rate), "--frames", str(n_latency)) as s:
        for name in names:
            samples: list[float] = []
            warm = min(200, n_latency // 10)

            def sink(i: int, ns: int, samples: list[float] = samples, warm: int = warm) -> None:
                if i >= warm:
                    samples.append(ns / 1e3)

            asyncio.run(CLIENTS[name](s.base_url, s.ws_url, n_latency, sink))
            latency[name] = {
                "p50_us": percentile(samples, 50),
                "p99_us": percentile(samples, 99),
                "max_us": max(samples, default=float("nan")),
                "samples": len(samples),
            }

    floor, base = names[1], names[2]
    results = []
    rows = []
    for name in names:
        r, c = median(rates[name]), median(cpu[name])
        result = {
            "client": name,
            "events_per_s": r,
            "cpu_us_per_event": c,
            "vs_floor": ratio(r, median(rates[floor])),
            "vs_json": ratio(r, median(rates[base])),
            "cpu_vs_floor": ratio(c, median(cpu[floor])),
            **latency[name],
            "runs_events_per_s": rates[name],
            "runs_cpu_us": cpu[name],
        }
        results.append(result)
        rows.append(
            [
                name,
                r,
                result["vs_floor"],
                result["vs_json"],
                c,
                latency[name]["p50_us"],
                latency[name]["p99_us"],
            ]
        )
    print(
        table(
            f"Realtime: {n:,} REAL frames (0B/0D), median of {args.rounds} alternated rounds; "
            f"latency at {args.rate:,.0f} frames/s",
            [
                "client",
                "events/s",
                "vs floor",
                "vs json",
                "CPU µs/event",
                "latency p50 µs",
                "p99 µs",
            ],
            rows,
        )
    )
    path = write_result(
        "realtime",
        {
            "params": {
                "frames": n,
                "rounds": args.rounds,
                "latency_rate": args.rate,
                "latency_frames": n_latency,
                "smoke": args.smoke,
            },
            "results": results,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
