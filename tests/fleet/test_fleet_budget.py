"""The request budget shared through Redis: one GCRA script, every layer in one round trip."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from kiwoom_async import KiwoomValidationError, RateLimits
from kiwoom_async.fleet import FleetUnavailableError
from kiwoom_async.fleet.budget import RedisBudget

from ._redis_server import free_port

OTHER_TRS = ("ka10001", "ka10002", "ka10003")


async def acquire_times(budget: RedisBudget, api_id: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await budget.acquire(api_id, is_order=False)
        times.append(time.monotonic())
    return times


async def test_two_budgets_on_one_key_space_their_grants_together(redis_url: str) -> None:
    limits = RateLimits(per_key=40.0, margin=0.0)
    budgets = [RedisBudget(redis_url, limits, scope="s") for _ in range(2)]
    try:
        start = time.monotonic()
        runs = await asyncio.gather(*(acquire_times(b, "ka10004", 10) for b in budgets))
    finally:
        for b in budgets:
            await b.aclose()
    grants = sorted(t - start for run in runs for t in run)
    # 20 grants at 40/s, the first at once: the last no sooner than 19 intervals later,
    # whichever budget asked. Late wake-ups only add to it.
    assert grants[-1] >= 19 / 40 * 0.95
    assert grants[-1] < 19 / 40 + 1.0
    assert sum(b.grants for b in budgets) == 20


async def test_one_round_trip_per_grant_when_the_budget_has_room(redis_url: str) -> None:
    limits = RateLimits(per_key=1000.0, per_tr=1000.0, orders=1000.0)
    budget = RedisBudget(redis_url, limits, scope="s")
    try:
        for _ in range(5):
            await budget.acquire("kt10000", is_order=True)
            await asyncio.sleep(0.002)
    finally:
        await budget.aclose()
    assert budget.round_trips == 5  # three layers, one script call each time


async def test_waiting_for_one_tr_does_not_hold_up_another(redis_url: str) -> None:
    limits = RateLimits(per_key=100.0, per_tr=4.0, margin=0.0)
    budget = RedisBudget(redis_url, limits, scope="s")
    try:
        start = time.monotonic()
        slow = asyncio.ensure_future(acquire_times(budget, "ka10004", 3))  # 4/s: 0.5 s
        await asyncio.sleep(0.05)
        fast = [(await acquire_times(budget, api_id, 1))[0] for api_id in OTHER_TRS]
        slow_times = await slow
    finally:
        await budget.aclose()
    assert fast[-1] - start < 0.3  # not queued behind ka10004's half-second wait
    assert slow_times[-1] - start >= 2 / 4 * 0.95


async def test_orders_fail_closed_when_redis_is_down() -> None:
    url = f"redis://user:s3cret-pw@127.0.0.1:{free_port()}/0"
    budget = RedisBudget(url, RateLimits(per_key=5.0), scope="s")
    with pytest.raises(FleetUnavailableError) as caught:
        await budget.acquire("kt10000", is_order=True)
    assert "s3cret" not in str(caught.value) and "kt10000" in str(caught.value)
    await budget.aclose()


async def test_queries_fall_back_to_local_limiting_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = RedisBudget(
        f"redis://127.0.0.1:{free_port()}/0", RateLimits(per_key=20.0, margin=0.0), scope="s"
    )
    with caplog.at_level(logging.WARNING, logger="kiwoom_async.fleet"):
        start = time.monotonic()
        times = await acquire_times(budget, "ka10004", 5)
    await budget.aclose()
    assert budget.local_grants == 5 and budget.grants == 0
    assert times[-1] - start >= 4 / 20 * 0.95  # still limited, by this process alone
    warnings = [r for r in caplog.records if "fall back" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per call


async def test_queries_may_be_told_to_fail_instead() -> None:
    budget = RedisBudget(
        f"redis://127.0.0.1:{free_port()}/0",
        RateLimits(per_key=5.0),
        scope="s",
        queries_when_down="fail",
    )
    with pytest.raises(FleetUnavailableError):
        await budget.acquire("ka10004", is_order=False)
    await budget.aclose()


def test_a_rate_the_fleet_cannot_share_is_refused_up_front() -> None:
    with pytest.raises(KiwoomValidationError):
        RedisBudget("redis://127.0.0.1:1/0", RateLimits(per_key=-1.0), scope="s")


async def test_a_cancelled_caller_is_not_held_up_by_its_redis_command(redis_url: str) -> None:
    budget = RedisBudget(redis_url, RateLimits(per_key=1e6), scope="s")

    async def spin() -> None:
        while True:
            await budget.acquire("ka10004", is_order=False)

    try:
        for offset in range(25):  # cancelled at different points of a round trip
            task = asyncio.ensure_future(spin())
            await asyncio.sleep(0.005 + offset * 0.0007)
            task.cancel()
            # Cancelling redis-py mid-command could hang for its socket timeout, or for good.
            done, _ = await asyncio.wait({task}, timeout=0.5)
            assert task in done and task.cancelled(), f"cancellation {offset} hung"
    finally:
        await budget.aclose()
