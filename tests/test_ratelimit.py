from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest

from kiwoom_async import KiwoomValidationError, RateLimiter, RateLimits, RetryPolicy
from kiwoom_async._ratecontrol import RateControl
from kiwoom_async.ratelimit import AdaptiveRateLimiter


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


# --- keeping the schedule when wake-ups are late ----------------------------------------


class LateTime(FakeTime):
    """Every sleep wakes ``late`` seconds after it was due, as a busy event loop does."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + self.late)


async def test_late_wake_ups_do_not_push_the_schedule_back() -> None:
    time = LateTime(late=0.001)  # a millisecond per wake-up: 0.9 of the budget before
    limiter = RateLimiter(100, clock=time.clock, sleep=time.sleep)
    for _ in range(101):
        await limiter.acquire()
    # 100 intervals of 10.15 ms, plus the last wake-up's lateness, not 100 of 11.15 ms.
    assert time.now == pytest.approx(100 * 0.01015 + 0.001)


async def test_lateness_beyond_the_tolerance_is_not_forgiven() -> None:
    time = LateTime(late=0.02)
    limiter = RateLimiter(100, clock=time.clock, sleep=time.sleep)
    grants = []
    for _ in range(20):
        await limiter.acquire()
        grants.append(time.now)
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    # The tolerance is at most a quarter of the spacing: grants never bunch up behind a late one.
    assert min(gaps) >= 0.01015 * 3 / 4


async def test_any_n_grants_span_the_server_window_despite_late_wake_ups() -> None:
    time = LateTime(late=0.004)
    limiter = RateLimiter(20, clock=time.clock, sleep=time.sleep)
    grants = []
    for _ in range(60):
        await limiter.acquire()
        grants.append(time.now)
    # A sliding one-second window admitting 20 never sees 21 of them.
    assert all(grants[i + 20] - grants[i] >= 1.0 for i in range(len(grants) - 20))


# --- the simulator's window -------------------------------------------------------------


def test_the_simulator_window_counts_arrivals_admitted_out_of_order() -> None:
    from kiwoom_async.testing import SimConfig
    from kiwoom_async.testing._state import SimState

    state = SimState(SimConfig(rate_limit=2))
    # Two requests arrived at 10.0 and 10.6 but slept in a latency that then dropped: one that
    # arrived at 10.9 is admitted first.
    assert state.admit("k", "ka10004", now=10.9)
    assert state.admit("k", "ka10004", now=10.0)
    assert not state.admit("k", "ka10004", now=10.6)  # three in (9.9, 10.9]
    # 11.05 sees 10.9 only in its window (10.05, 11.05] -> admitted; before the fix the
    # unsorted window kept 10.0 counted and refused it.
    assert state.admit("k", "ka10004", now=11.05)
    assert not state.admit("k", "ka10004", now=11.5)  # 10.9 and 11.05 fill (10.5, 11.5]
    assert state.admit("k", "ka10004", now=11.95)


def test_the_simulator_window_in_order_is_a_plain_sliding_window() -> None:
    from kiwoom_async.testing import SimConfig
    from kiwoom_async.testing._state import SimState

    state = SimState(SimConfig(rate_limit=3))
    moments = [0.0, 0.1, 0.2, 0.3, 0.99, 1.0, 1.05, 1.1, 1.2]
    admitted = [m for m in moments if state.admit("k", "x", now=m)]
    assert admitted == [0.0, 0.1, 0.2, 1.0, 1.1, 1.2]


# --- the adaptive budget: rules -------------------------------------------------------


def control(start: float = 1.0, **options: Any) -> RateControl:
    return RateControl(start, rng=random.Random(7), **options)


def feed(c: RateControl, moments: list[float], waited: bool = True) -> None:
    """Grants at ``moments``, each accepted at once."""
    for t in moments:
        c.granted(t, waited)
        c.answered(t, False, t)


def test_slow_start_doubles_while_callers_wait_and_the_server_accepts() -> None:
    c = control(1.0)
    feed(c, [0.0, 1.0])
    assert c.rate == 2.0 and not c.limit_known
    feed(c, [1.5, 2.0])
    assert c.rate == 4.0


def test_slow_start_does_not_inflate_a_budget_nobody_waits_for() -> None:
    c = control(1.0)
    feed(c, [float(t) * 10 for t in range(20)], waited=False)
    assert c.rate == 1.0


def test_a_rejection_sets_the_budget_to_what_the_server_accepted_before_it() -> None:
    c = control(64.0, quiet_calls=10**6)
    moments = [i / 128 for i in range(104)]  # 128/s, the server admits 100 in any second
    for i, t in enumerate(moments):
        c.granted(t, True)
        if i < 100:
            c.answered(t, False, t + 0.001)
    # The refusal of request 100 comes back once 101..103 are on their way.
    c.answered(moments[100], True, moments[103] + 0.001)
    assert c.limit_known and c.rate == 100.0
    # Those come back refused too: old news, granted before the cut.
    for t in moments[101:]:
        c.answered(t, True, t + 0.01)
    assert c.rate == 100.0 and c.rejections == 4


def test_a_limit_that_drops_is_followed_down() -> None:
    c = control(20.0)
    c.limit_known = True
    t = 0.0
    accepted_at: list[float] = []
    # 20/s accepted for two seconds, then the server admits 10 per second from t = 2.
    while t < 6:
        c.granted(t, True)
        in_window = [a for a in accepted_at if a > t - 1]
        limit = 20 if t < 2 else 10
        limited = len(in_window) >= limit
        if not limited:
            accepted_at.append(t)
        c.answered(t, limited, t)
        t += 1 / c.rate * 1.015
    assert c.rate == 10.0
    assert c.rejections <= 12


def test_probes_above_a_known_limit_are_rare_and_a_failed_one_costs_one_rejection() -> None:
    c = control(10.0, quiet_calls=100, quiet_seconds=5.0)
    c.limit_known = True
    t, rates = 0.0, []
    server_limit = 10
    accepted_at: list[float] = []
    while t < 60:
        c.granted(t, True)
        limited = sum(1 for a in accepted_at if a > t - 1) >= server_limit
        if not limited:
            accepted_at.append(t)
        c.answered(t, limited, t)
        rates.append(c.rate)
        t += 1 / c.rate * 1.015
    calls = len(rates)
    assert c.rejections <= calls * 0.02
    assert c.rejections >= 1  # it did probe
    assert rates[-1] == 10.0 and max(rates) == 11.0


def test_a_probe_that_holds_doubles_the_next_step() -> None:
    c = control(10.0, quiet_calls=20, quiet_seconds=1.0)
    c.limit_known = True
    t, seen = 0.0, list[float]()
    while t < 20:
        feed(c, [t])
        if not seen or seen[-1] != c.rate:
            seen.append(c.rate)
        t += 1 / c.rate * 1.015
    assert seen[:5] == [10.0, 11.0, 13.0, 17.0, 25.0]


def test_probe_timing_is_jittered_from_the_seeded_random() -> None:
    def first_probe(seed: int) -> float:
        c = RateControl(10.0, quiet_calls=20, quiet_seconds=5.0, rng=random.Random(seed))
        c.limit_known = True
        t = 0.0
        while c.rate == 10.0:
            feed(c, [t])
            t += 0.1015
        return t

    assert first_probe(1) == first_probe(1)
    assert len({first_probe(seed) for seed in range(5)}) > 1


# --- the adaptive budget against a sliding-window server, in virtual time ----------------


async def adaptive_run(
    limit: int, seconds_: float
) -> tuple[list[float], int, list[tuple[float, float]]]:
    """Eight callers against a server admitting ``limit`` per second: (admission times,
    rejections, (time, budget) after each answer)."""
    time = FakeTime()
    limiter = AdaptiveRateLimiter(1.0, rng=random.Random(1), clock=time.clock, sleep=time.sleep)
    admitted: list[float] = []
    rejections = 0
    trace: list[tuple[float, float]] = []

    async def caller() -> None:
        nonlocal rejections
        while time.now < seconds_:
            await limiter.acquire()
            now = time.now + 0.002  # the request reaches the server a little later
            limited = sum(1 for a in admitted if a > now - 1) >= limit
            if limited:
                rejections += 1
            else:
                admitted.append(now)
            limiter.observe(limited)
            trace.append((time.now, limiter.rate))
            await asyncio.sleep(0)

    await asyncio.gather(*(caller() for _ in range(8)))
    return admitted, rejections, trace


@pytest.mark.parametrize("limit", [5, 20, 100])
async def test_the_adaptive_budget_finds_an_unknown_limit(limit: int) -> None:
    admitted, rejections, trace = await adaptive_run(limit, 40.0)
    settled = [rate for t, rate in trace if t >= 10]
    assert min(settled) >= 0.95 * limit  # found within ten seconds, starting from 1/s
    assert rejections <= 0.02 * len(admitted)
    second_half = sum(1 for a in admitted if a >= 20)
    assert second_half >= 0.97 * limit * 20


def test_rate_limits_check_their_budgets() -> None:
    assert RateLimits(per_key="auto").per_key == "auto"
    for bad in ({"per_key": 0}, {"per_key": "fast"}, {"per_tr": "auto"}, {"burst": 0}):
        with pytest.raises(KiwoomValidationError):
            RateLimits(**bad)
    auto = RateLimits(per_key="auto")
    real, mock = auto.key_limiter("real"), auto.key_limiter("mock")
    assert isinstance(real, AdaptiveRateLimiter) and real.rate == 5.0
    assert isinstance(mock, AdaptiveRateLimiter) and mock.rate == 1.0
    assert isinstance(RateLimits(per_key=3).key_limiter("real"), RateLimiter)


async def test_observe_without_a_grant_in_this_task_changes_nothing() -> None:
    limiter = AdaptiveRateLimiter(4.0)
    await asyncio.create_task(limiter.acquire())  # granted in another task
    limiter.observe(True)
    assert limiter.control.rejections == 0


# --- end to end: the session feeds the adaptive budget --------------------------------


async def test_requests_per_second_auto_learns_the_simulators_limit() -> None:
    from kiwoom_async import Kiwoom
    from kiwoom_async.testing import Simulator

    retry = RetryPolicy(rng=random.Random(3), backoff_base=0.01)
    async with Simulator(rate_limit=10, seed=1) as sim:
        kw = Kiwoom(
            "auto-appkey-0123456789",
            "auto-secret-0123456789",
            env="real",
            base_url=sim.base_url,
            requests_per_second="auto",
            retry=retry,
        )
        async with kw:
            limiter = kw.rest._key_limiter
            assert isinstance(limiter, AdaptiveRateLimiter)
            assert limiter.rate == 5.0  # the real server's default in the fact base
            calls = [("ka10004", {"stk_cd": "005930"})] * 24
            responses = await kw.rest.call_many(calls, concurrency=4)
    assert all(r.return_code == 0 for r in responses)
    # It went past 10/s, was refused, and settled on what the server accepted.
    assert limiter.control.limit_known
    assert limiter.rate == 10.0
    assert limiter.control.rejections == sim.stats.rate_limit_rejections >= 1


def test_a_window_full_of_other_requests_halves_the_budget_once_per_window() -> None:
    c = control(8.0)
    t = 0.0
    while t < 1.0:  # every request refused: another client holds the whole window
        c.granted(t, True)
        c.answered(t, True, t + 0.002)
        t += 0.05
    assert c.rate == 4.0  # once in that window, not once per refusal
    c.granted(1.1, True)
    c.answered(1.1, True, 1.102)
    assert c.rate == 2.0
