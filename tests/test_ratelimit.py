from __future__ import annotations

import asyncio

import pytest

from kiwoom_async import RateLimiter, RateLimits


class FakeTime:
    """A clock whose sleeps pass instantly and exactly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_grants_are_evenly_spaced_with_burst_one() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, margin=0.02, clock=time.clock, sleep=time.sleep)
    grants = []
    for _ in range(6):
        await limiter.acquire()
        grants.append(time.now)
    assert grants == pytest.approx([n * 0.204 for n in range(6)])
    assert limiter.waits == 5


async def test_the_real_clock_spaces_grants_too() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(200, margin=0.0)
    start = loop.time()
    for _ in range(5):
        await limiter.acquire()
    assert loop.time() - start >= 4 * 0.005 * 0.99


async def test_a_burst_goes_at_once_then_waits_for_the_window() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, burst=5, margin=0.0, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert limiter.waits == 0 and time.now == 0
    await limiter.acquire()
    assert limiter.waits == 1 and time.now == pytest.approx(1.0)


async def test_no_window_ever_holds_more_than_the_budget() -> None:
    time = FakeTime()
    limiter = RateLimiter(4, burst=4, margin=0.02, clock=time.clock, sleep=time.sleep)
    grants: list[float] = []

    async def client() -> None:
        await limiter.acquire()
        grants.append(time.now)

    await asyncio.gather(*(client() for _ in range(13)))
    assert len(grants) == 13
    for index in range(len(grants) - 4):
        assert grants[index + 4] - grants[index] >= 1.0


def test_environment_defaults_follow_the_fact_base() -> None:
    assert RateLimits.default_for("real").per_key == 5
    assert RateLimits.default_for("mock").per_key == 1
    assert RateLimits().limiter(None) is None
    with pytest.raises(ValueError):
        RateLimiter(0)
