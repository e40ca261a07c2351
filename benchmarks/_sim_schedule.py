"""The simulator with a per-key rate limit that changes on a signal, for the adaptive runs.

Usage: ``python benchmarks/_sim_schedule.py --rates 20,10,20``: starts with 20/s; each SIGUSR1
moves to the next rate. Prints ``base_url ...`` and ``ws_url ...`` once listening, runs until
terminated. Background traffic (PINGs, ticks) is off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from kiwoom_async.testing import Simulator


async def serve(rates: list[float]) -> None:
    sim = Simulator(rate_limit=rates[0], ping_interval=0, tick_interval=0)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    upcoming = iter(rates[1:])

    def next_rate() -> None:
        rate = next(upcoming, None)
        if rate is not None:
            sim.state.config.rate_limit = rate  # the config is live

    loop.add_signal_handler(signal.SIGUSR1, next_rate)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with sim:
        print(f"base_url {sim.base_url}", flush=True)
        print(f"ws_url   {sim.ws_url}", flush=True)
        await stop.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rates", required=True, help="comma-separated per-key limits, in order")
    args = p.parse_args()
    asyncio.run(serve([float(r) for r in args.rates.split(",")]))


if __name__ == "__main__":
    main()
