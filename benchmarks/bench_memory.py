"""Memory under a slow consumer: the blast server sends 100,000 REAL frames as fast as it can
while the consumer handles one event per millisecond. Each client runs in its own subprocess,
which samples its RSS every 50 ms and reports start / peak / end.

- kiwoom_async: ``RealtimeSession`` with its bounded queue (``queue_size=1000``,
  ``drop_oldest``): RSS should stay flat, the excess counted as dropped;
- baseline: websockets + ``json.loads`` into an unbounded ``asyncio.Queue``, the usual
  hand-written reader/consumer split: it keeps every frame it has not handled yet.

Run: ``python benchmarks/bench_memory.py`` (``--smoke`` for a quick check).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from _common import (
    APPKEY,
    SECRETKEY,
    blast_server,
    parser,
    ratio,
    rss_bytes,
    table,
    write_result,
)

MB = 1024 * 1024


async def _sample(samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_bytes())
        await asyncio.sleep(0.05)


async def child_ours(base_url: str, ws_url: str, frames: int, seconds: float) -> dict[str, Any]:
    from kiwoom_async import Kiwoom
    from kiwoom_async.models.realtime import RealtimeEvent

    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, ws_url=ws_url, requests_per_second=None)
    samples = [rss_bytes()]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(samples, stop))
    consumed = 0
    async with kw.realtime(queue_size=1_000) as rt:
        await rt.wait_ready()
        await rt.subscribe(["005930"], ["0B", "0D"])
        deadline = time.monotonic() + seconds
        async for event in rt:
            if isinstance(event, RealtimeEvent):
                consumed += 1
                await asyncio.sleep(0.001)  # the slow consumer
            if rt.stats.events >= frames or time.monotonic() > deadline:
                break
        received, dropped = rt.stats.events, rt.stats.queue.dropped
    stop.set()
    await sampler
    await kw.aclose()
    return {"samples": samples, "received": received, "consumed": consumed, "dropped": dropped}


async def child_baseline(base_url: str, ws_url: str, frames: int, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from kiwoom_async import Kiwoom

    token = await Kiwoom(APPKEY, SECRETKEY, base_url=base_url).tokens.token()
    samples = [rss_bytes()]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(samples, stop))
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    received = consumed = 0
    async with connect(ws_url, compression=None, max_queue=1024, ping_interval=None) as ws:
        await ws.send(json.dumps({"trnm": "LOGIN", "token": token}))
        await ws.recv()
        reg = {"trnm": "REG", "grp_no": "1", "refresh": "1"}
        await ws.send(json.dumps(reg | {"data": [{"item": ["005930"], "type": ["0B", "0D"]}]}))

        async def reader() -> None:
            nonlocal received
            while received < frames:
                frame = json.loads(await ws.recv(decode=False))
                for item in frame.get("data") or ():
                    received += 1
                    queue.put_nowait(item)

        task = asyncio.create_task(reader())
        deadline = time.monotonic() + seconds
        while received < frames and time.monotonic() < deadline:
            await queue.get()
            consumed += 1
            await asyncio.sleep(0.001)
        task.cancel()
    stop.set()
    await sampler
    return {"samples": samples, "received": received, "consumed": consumed, "dropped": 0}


CHILDREN = {
    "kiwoom_async (bounded queue)": child_ours,
    "websockets + asyncio.Queue": child_baseline,
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        name, base_url, ws_url, frames, seconds = sys.argv[2:7]
        result = asyncio.run(CHILDREN[name](base_url, ws_url, int(frames), float(seconds)))
        print(json.dumps(result))
        return
    p = parser(__doc__ or "")
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=20.0, help="cap per client")
    args = p.parse_args()
    if args.smoke:
        args.frames, args.seconds = 5_000, 1.5
    results = []
    with blast_server("--frames", str(args.frames)) as server:
        for name in CHILDREN:
            argv = [sys.executable, __file__, "--child", name, server.base_url, server.ws_url]
            out = subprocess.run(
                [*argv, str(args.frames), str(args.seconds)],
                capture_output=True,
                text=True,
                timeout=args.seconds + 60,
                check=True,
            )
            data = json.loads(out.stdout.strip().splitlines()[-1])
            samples = data.pop("samples")
            results.append(
                {
                    "client": name,
                    "rss_start_mb": samples[0] / MB,
                    "rss_peak_mb": max(samples) / MB,
                    "rss_end_mb": samples[-1] / MB,
                    "growth_mb": (max(samples) - samples[0]) / MB,
                    "rss_samples_mb": [s / MB for s in samples],
                    **data,
                }
            )
    ours, base = results
    print(
        table(
            f"Memory, slow consumer (1 ms per event) under a {args.frames:,}-frame blast",
            ["client", "received", "consumed", "dropped", "RSS start MB", "peak", "end", "growth"],
            [
                [
                    r["client"],
                    r["received"],
                    r["consumed"],
                    r["dropped"],
                    r["rss_start_mb"],
                    r["rss_peak_mb"],
                    r["rss_end_mb"],
                    r["growth_mb"],
                ]
                for r in results
            ],
        )
    )
    growth_ratio = ratio(ours["growth_mb"], base["growth_mb"])
    print(f"\npeak growth ours / baseline: {growth_ratio:.2f}")
    path = write_result(
        "memory",
        {"params": vars(args), "results": results, "growth_ratio": growth_ratio},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
