"""Rate limits: adherence when the client is told the server's limit, and the adaptive budget
(``requests_per_second="auto"``) when it is not.

The simulator enforces N requests/s per app key (a sliding one-second window). Eight workers
call ka10004 as fast as the client lets them.

- told: the client is set to N; retries on a rate-limit answer are off, so every rejection
  is counted instead of hidden. Target: achieved >= 0.97 N, zero rejections.
- auto: the client starts from the mock default (1/s) and learns N; retries are on, as a user
  would have them. Against the same server, in the same run, the baseline is the AWS SDKs'
  adaptive mode (``_cubic.py``). Reported: accepted/s over the second half of the run ÷ N,
  over the whole run ÷ N, rejections per completed call, and the convergence time (from when
  the budget never again falls below 0.95 N).
- schedule: the limit is 20/s, drops to 10/s, then returns to 20/s; reported: rejections after
  the drop, how long until they stop, the rate held at 10 and how long until 0.95 × 20 again.

Run: ``python benchmarks/bench_ratelimit.py`` (``--smoke``: a few seconds each).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from _common import (
    APPKEY,
    HERE,
    SECRETKEY,
    Server,
    median,
    parser,
    simulator,
    table,
    write_result,
)
from _cubic import CubicLimiter

from kiwoom_async import Kiwoom, RateLimitError, RetryPolicy
from kiwoom_async.ratelimit import AdaptiveRateLimiter

API_ID = "ka10004"
BODY = {"stk_cd": "005930"}
WORKERS = 8
LIMITERS = ("kiwoom_async auto", "AWS adaptive (CUBIC)")
SCHEDULE = [20.0, 10.0, 20.0]


@dataclass
class Trace:
    """What one run saw: when accepted answers and rejections came back."""

    start: float = 0.0
    accepted: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)
    calls: int = 0

    def rate_between(self, a: float, b: float) -> float:
        """Accepted answers per second between ``a`` and ``b`` seconds into the run."""
        n = sum(1 for t in self.accepted if a <= t - self.start < b)
        return n / (b - a) if b > a else 0.0


def settled_at(
    budget: list[tuple[float, float]], limit: float, since: float, until: float
) -> float:
    """Seconds after ``since`` from which the budget stays >= 0.95 N up to ``until`` (NaN:
    not within the run; a limiter that is not limiting yet counts as unlimited)."""
    samples = [(t, rate) for t, rate in budget if since <= t < until]
    settled = since
    for t, rate in samples:
        if rate < 0.95 * limit:
            settled = t + 0.1
    if not samples or settled >= samples[-1][0]:
        return float("nan")
    return settled - since


class _Counting:
    """Passes the session's feedback on to the limiter under test and keeps the trace."""

    def __init__(self, inner: Any, trace: Trace) -> None:
        self.inner = inner
        self.trace = trace

    def observe(self, limited: bool) -> None:
        (self.trace.rejected if limited else self.trace.accepted).append(time.monotonic())
        self.inner.observe(limited)


async def _workers(kw: Kiwoom, deadline: float, trace: Trace, record: bool) -> None:
    """``record``: answers go into the trace here (else the session's feedback does it)."""

    async def worker() -> None:
        while True:
            try:
                await kw.rest.call(API_ID, BODY)
            except RateLimitError:
                if record:
                    trace.rejected.append(time.monotonic())
            else:
                if record:
                    trace.accepted.append(time.monotonic())
                trace.calls += 1

    # Stopped at the deadline: callers queued for a grant would otherwise stretch the run.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(loop.time() + deadline - time.monotonic()):
            await asyncio.gather(*(worker() for _ in range(WORKERS)))


async def run_told(base_url: str, rate: float, duration: float) -> dict[str, float]:
    retry = RetryPolicy(rate_limit_retries=0)
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=base_url, requests_per_second=rate, retry=retry)
    trace = Trace()
    async with kw:
        await kw.tokens.token()  # the token request is not a TR call: keep it off the clock
        trace.start = time.monotonic()
        await _workers(kw, trace.start + duration, trace, record=True)
    done = sorted(trace.accepted + trace.rejected)
    # Steady-state rate as the server sees it: answers between the first and the last one
    # (response time is the same at both ends, so it cancels out).
    span = done[-1] - done[0] if len(done) > 1 else 0.0
    achieved = (len(done) - 1) / span if span > 0 else 0.0
    return {
        "rate": rate,
        "calls": len(done),
        "rejected": len(trace.rejected),
        "achieved_per_s": achieved,
        "adherence": achieved / rate,
    }


async def run_adaptive(
    server: Server, which: str, duration: float, switch_at: list[float], gap: float = 1.1
) -> tuple[Trace, list[tuple[float, float]]]:
    """One run of an adaptive limiter; SIGUSR1 to the server at each ``switch_at`` second."""
    await asyncio.sleep(gap)  # the server's window forgets the run before this one
    kw = Kiwoom(APPKEY, SECRETKEY, base_url=server.base_url, requests_per_second="auto")
    trace = Trace()
    budget: list[tuple[float, float]] = []
    async with kw:
        rest = kw.rest
        limiter: Any = rest._key_limiter
        assert isinstance(limiter, AdaptiveRateLimiter)
        if which != LIMITERS[0]:
            limiter = rest._key_limiter = CubicLimiter()  # type: ignore[assignment]
        rest._feedback = _Counting(limiter, trace)
        await kw.tokens.token()
        trace.start = time.monotonic()

        async def sample() -> None:
            while True:
                rate = limiter.rate if getattr(limiter, "enabled", True) else float("inf")
                budget.append((round(time.monotonic() - trace.start, 2), rate))
                await asyncio.sleep(0.1)

        async def switch() -> None:
            assert server.proc is not None
            for at in switch_at:
                await asyncio.sleep(max(0.0, trace.start + at - time.monotonic()))
                os.kill(server.proc.pid, signal.SIGUSR1)

        helpers = [asyncio.create_task(sample()), asyncio.create_task(switch())]
        try:
            await _workers(kw, trace.start + duration, trace, record=False)
        finally:
            for task in helpers:
                task.cancel()
    return trace, budget


def summarize_auto(
    trace: Trace, budget: list[tuple[float, float]], limit: float, duration: float
) -> dict[str, float]:
    return {
        "calls": trace.calls,
        "rejections": len(trace.rejected),
        "rejections_per_call": len(trace.rejected) / max(1, trace.calls),
        "steady_share": trace.rate_between(duration / 2, duration) / limit,
        "whole_share": trace.rate_between(0, duration) / limit,
        "converged_s": settled_at(budget, limit, 0.0, duration),
    }


def summarize_schedule(
    trace: Trace, budget: list[tuple[float, float]], phase: float
) -> dict[str, float]:
    drop, rise = phase, 2 * phase
    after_drop = [t - trace.start - drop for t in trace.rejected if drop <= t - trace.start < rise]
    at_new_limit = [t - drop for t, rate in budget if drop <= t < rise and rate <= SCHEDULE[1]]
    return {
        "calls": trace.calls,
        "rejections_before_drop": sum(1 for t in trace.rejected if t - trace.start < drop),
        "rejections_after_drop": len(after_drop),
        "rejections_within_5s_of_drop": sum(1 for t in after_drop if t < 5),
        "budget_at_new_limit_after_s": min(at_new_limit, default=float("nan")),
        "share_at_low": trace.rate_between(drop + phase / 2, rise) / SCHEDULE[1],
        "back_at_high_s": settled_at(budget, SCHEDULE[2], rise, 3 * phase),
    }


def schedule_server(rates: list[float]) -> Server:
    script = str(HERE / "_sim_schedule.py")
    return Server([sys.executable, script, "--rates", ",".join(f"{r:g}" for r in rates)])


def _told(rates: list[float], duration: float) -> list[dict[str, float]]:
    told = []
    for rate in rates:
        with simulator("--rate-limit", f"{rate:g}") as server:
            told.append(asyncio.run(run_told(server.base_url, rate, duration)))
    rows = [
        [r["rate"], r["rate"], int(r["calls"]), r["achieved_per_s"], r["adherence"], r["rejected"]]
        for r in told
    ]
    print(
        table(
            f"Told the limit: {duration:g} s per rate ({WORKERS} workers, ka10004, no retries)",
            ["server N/s", "client N/s", "calls", "achieved/s", "÷ N", "rejections"],
            rows,
        )
    )
    return told


Runs = dict[str, dict[float, list[dict[str, float]]]]


def _auto(
    rates: list[float], duration: float, repeat: int, traces: dict[str, Any], gap: float
) -> Runs:
    auto: Runs = {w: {r: [] for r in rates} for w in LIMITERS}
    for rate in rates:
        with simulator("--rate-limit", f"{rate:g}") as server:
            for _ in range(repeat):
                for which in LIMITERS:  # alternated, against the same server
                    trace, budget = asyncio.run(run_adaptive(server, which, duration, [], gap))
                    auto[which][rate].append(summarize_auto(trace, budget, rate, duration))
                    traces[f"{which} {rate:g}"] = budget
    rows = []
    for rate in rates:
        for which in LIMITERS:
            runs = auto[which][rate]
            shares = [median([r[k] for r in runs]) for k in ("steady_share", "whole_share")]
            rejections = median([r["rejections_per_call"] for r in runs])
            rows.append(
                [
                    which,
                    rate,
                    *shares,
                    f"{rejections:.1%}",
                    median([r["converged_s"] for r in runs]),
                ]
            )
    headers = ["limiter", "server N/s", "÷ N, 2nd half", "÷ N, whole run", "rejections/call"]
    print()
    print(
        table(
            f"Limit unknown: {duration:g} s from the mock default (1/s), retries on; "
            f"median of {repeat}",
            [*headers, "converged after s"],
            rows,
        )
    )
    return auto


def _schedule(phase: float, repeat: int, traces: dict[str, Any], gap: float) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {w: [] for w in LIMITERS}
    for _ in range(repeat):
        for which in LIMITERS:
            with schedule_server(SCHEDULE) as server:
                switch = [phase, 2 * phase]
                run = run_adaptive(server, which, 3 * phase, switch, gap)
                trace, budget = asyncio.run(run)
                runs[which].append(summarize_schedule(trace, budget, phase))
                traces[f"{which} schedule"] = budget
    keys = (
        "rejections_before_drop",
        "rejections_within_5s_of_drop",
        "rejections_after_drop",
        "budget_at_new_limit_after_s",
        "share_at_low",
        "back_at_high_s",
    )
    print()
    print(
        table(
            f"Limit 20/s, 10/s from {phase:g} s, 20/s from {2 * phase:g} s; median of {repeat}",
            [
                "limiter",
                "rejections before the drop",
                "in 5 s after it",
                "in the low phase",
                "budget <= 10 after s",
                "÷ 10 while low",
                "back at 0.95 × 20 after s",
            ],
            [[which, *(median([r[k] for r in runs[which]]) for k in keys)] for which in LIMITERS],
        )
    )
    return {"rates": SCHEDULE, "phase_s": phase, "runs": runs}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rates", default="5,20,100", help="limits N for the told and auto runs")
    p.add_argument("--duration", type=float, default=15.0, help="seconds per told run")
    p.add_argument("--auto-duration", type=float, default=30.0, help="seconds per auto run")
    p.add_argument("--phase", type=float, default=20.0, help="seconds per schedule phase")
    p.add_argument("--repeat", type=int, default=1, help="auto and schedule runs per limiter")
    p.add_argument("--skip", nargs="*", default=[], choices=("told", "auto", "schedule"))
    p.add_argument("--gap", type=float, default=1.1, help="seconds between runs on a server")
    args = p.parse_args()
    if args.smoke:
        args.rates, args.duration, args.auto_duration, args.phase = "20", 1.0, 1.5, 0.5
        args.gap = 0.0
    rates = [float(r) for r in args.rates.split(",")]
    traces: dict[str, Any] = {}
    payload: dict[str, Any] = {"params": vars(args)}
    if "told" not in args.skip:
        payload["told"] = _told(rates, args.duration)
    if "auto" not in args.skip:
        auto = _auto(rates, args.auto_duration, args.repeat, traces, args.gap)
        payload["auto"] = {w: {f"{r:g}": runs for r, runs in by.items()} for w, by in auto.items()}
    if "schedule" not in args.skip:
        payload["schedule"] = _schedule(args.phase, args.repeat, traces, args.gap)
    payload["budget_traces"] = traces
    path = write_result("ratelimit", payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
