"""Kiwoom(redis_url=...): the one argument that shares token, budget and ledger."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from kiwoom_async import IdempotencyError, Kiwoom, OrderStatusUnknownError, RateLimits
from kiwoom_async.fleet.budget import RedisBudget
from kiwoom_async.fleet.ledger import RedisLedger
from kiwoom_async.testing import Simulator

APPKEY = "fleet-appkey-0123456789abcdef"
SECRETKEY = "fleet-secretkey-9876543210fedcba"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=1, reissue_invalidates_old=True) as simulator:
        yield simulator


def client(sim: Simulator, redis_url: str | None) -> Kiwoom:
    return Kiwoom(
        APPKEY,
        SECRETKEY,
        base_url=sim.base_url,
        rate_limits=RateLimits(per_key=50.0),
        redis_url=redis_url,
    )


async def test_one_argument_turns_every_shared_piece_on(sim: Simulator, redis_url: str) -> None:
    async with client(sim, redis_url) as kw:
        assert isinstance(kw.rest.budget, RedisBudget)
        assert isinstance(kw.order.ledger, RedisLedger)
        assert kw.tokens.store is not None
        await kw.rest.call("ka10004", {"stk_cd": "005930"})
        assert kw.rest.budget.grants == 1


async def test_without_it_nothing_changes_and_redis_is_not_needed(sim: Simulator) -> None:
    async with client(sim, None) as kw:
        assert kw.rest.budget is None and kw.tokens.store is None
        assert not isinstance(kw.order.ledger, RedisLedger)
        await kw.rest.call("ka10004", {"stk_cd": "005930"})
    assert sim.stats.token_revokes == 1  # a token of its own is revoked on close, as before


def test_the_core_does_not_import_redis() -> None:
    import subprocess

    probe = "import sys, kiwoom_async; sys.exit('redis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0


async def test_an_order_lost_by_one_process_is_reconciled_by_another(
    sim: Simulator, redis_url: str
) -> None:
    sim.config.drop_after_order = True
    async with client(sim, redis_url) as first, client(sim, redis_url) as second:
        with pytest.raises(OrderStatusUnknownError):
            await first.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="k")
        sim.config.drop_after_order = False
        with pytest.raises(IdempotencyError, match="unknown"):
            await second.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="k")
        found = await second.order.reconcile("k")
        assert found.found and found.ord_no == sim.orders[0].ord_no
        again = await first.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="k")
    assert again.replayed and again.ord_no == found.ord_no
    assert len(sim.orders) == 1
    assert sim.stats.token_issues == 1


async def test_secrets_stay_out_of_redis_key_names_and_values(
    sim: Simulator, redis_url: str
) -> None:
    async with client(sim, redis_url) as kw:
        await kw.order.buy("005930", qty=1, price=None, trde_tp="3", idempotency_key="k")
        token = await kw.tokens.token()
    client_ = redis.asyncio.Redis.from_url(redis_url)
    try:
        names = [name async for name in client_.scan_iter()]
        values = b""
        for name in names:
            kind = await client_.type(name)
            stored: list[bytes | str | None] = []
            if kind == b"hash":
                stored = list((await client_.hgetall(name)).values())
            elif kind == b"string":
                stored = [await client_.get(name)]
            values += b"".join(v for v in stored if isinstance(v, bytes))
    finally:
        await client_.aclose()
    for secret in (APPKEY, SECRETKEY, token):
        assert not any(secret.encode() in name for name in names)
    assert APPKEY.encode() not in values and SECRETKEY.encode() not in values
    assert values.count(token.encode()) == 1  # the token itself, under its own TTL
