"""Real processes on one app key against a simulator that enforces a per-key limit, kills a
token when it issues the next one, and allows one WebSocket per key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kiwoom_async.testing import Simulator

from ._fleet import run_fleet

LIMIT = 10.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        seed=1, rate_limit=LIMIT, reissue_invalidates_old=True, single_session_per_key=True
    ) as simulator:
        yield simulator


async def test_three_processes_share_token_budget_and_ledger(
    sim: Simulator, redis_url: str
) -> None:
    option = {
        "base_url": sim.base_url,
        "redis_url": redis_url,
        "per_key": LIMIT,
        "margin": 0.05,
        "calls": 8,
        "order_key": "rebalance-005930",
    }
    results = await run_fleet([option] * 3)

    assert sim.stats.token_issues == 1
    assert sum(r["tokens_issued_here"] for r in results) == 1
    assert sim.stats.rate_limit_rejections == 0
    assert [r["errors"] for r in results] == [[], [], []]
    assert sum(r["ok"] for r in results) == 24
    # The same idempotency key from three processes: one order reached the server.
    assert len(sim.orders) == 1
    outcomes = sorted(r["order"].split()[0] for r in results)
    assert outcomes.count("sent") == 1
    assert set(outcomes) <= {"sent", "replayed", "refused:"}


async def test_the_same_processes_without_redis_each_issue_a_token(sim: Simulator) -> None:
    option = {"base_url": sim.base_url, "per_key": LIMIT, "calls": 4}
    await run_fleet([option] * 2)
    # What the fleet prevents: a token each, and with reissue_invalidates_old each new token
    # kills the other's, so they keep replacing them.
    assert sim.stats.token_issues >= 2
