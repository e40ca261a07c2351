"""One token per app key across token managers that share a Redis (as processes do)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from kiwoom_async import TokenManager
from kiwoom_async.auth import StoredToken
from kiwoom_async.fleet import FleetUnavailableError, RedisTokenStore, fleet_scope
from kiwoom_async.testing import Simulator

from ._redis_server import RedisServer, free_port

APPKEY = "fleet-appkey-0123456789abcdef"
SECRETKEY = "fleet-secretkey-9876543210fedcba"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=1, reissue_invalidates_old=True) as simulator:
        yield simulator


def manager(sim: Simulator, redis_url: str, **options: object) -> TokenManager:
    return TokenManager(APPKEY, SECRETKEY, base_url=sim.base_url, redis_url=redis_url, **options)  # type: ignore[arg-type]


async def test_managers_sharing_redis_issue_one_token_between_them(
    sim: Simulator, redis_url: str
) -> None:
    managers = [manager(sim, redis_url) for _ in range(5)]
    try:
        tokens = await asyncio.gather(*(m.token() for m in managers for _ in range(10)))
    finally:
        for m in managers:
            await m.aclose()
    assert sim.stats.token_issues == 1
    assert len(set(tokens)) == 1
    assert sum(m.issued for m in managers) == 1
    assert sim.stats.token_revokes == 0  # the shared token outlives each manager


async def test_without_redis_each_manager_issues_its_own(sim: Simulator) -> None:
    managers = [TokenManager(APPKEY, SECRETKEY, base_url=sim.base_url) for _ in range(3)]
    for m in managers:
        await m.token()
        await m.aclose()
    assert sim.stats.token_issues == 3  # what the shared store saves


async def test_a_refused_token_is_replaced_once_for_all(sim: Simulator, redis_url: str) -> None:
    first, second = manager(sim, redis_url), manager(sim, redis_url)
    try:
        old = await first.token()
        assert await second.token() == old
        sim.invalidate_tokens()
        first.invalidate(old)
        new = await first.token()
        assert new != old
        second.invalidate(old)  # a late error about the old token
        assert await second.token() == new
        first.invalidate(old)  # and another: compare-and-clear keeps the new one
        assert await first.token() == new
    finally:
        await first.aclose()
        await second.aclose()
    assert sim.stats.token_issues == 2


async def test_refresh_ahead_of_expiry_happens_once_for_all(redis_url: str) -> None:
    stores = [RedisTokenStore(redis_url, scope="s", poll=0.01) for _ in range(4)]
    issued: list[str] = []

    async def issue() -> StoredToken:
        await asyncio.sleep(0.05)  # long enough for every store to find the lock taken
        issued.append(f"token-{len(issued)}")
        return StoredToken(issued[-1], 1.0, 1.0)

    try:
        first = await asyncio.gather(
            *(s.obtain(issue, refused=None, refresh_margin=0.3) for s in stores)
        )
        assert {t.value for t in first} == {"token-0"}
        await asyncio.sleep(0.75)  # due: 0.3 s or less left
        again = await asyncio.gather(
            *(s.obtain(issue, refused=None, refresh_margin=0.3) for s in stores)
        )
    finally:
        for s in stores:
            await s.aclose()
    assert issued == ["token-0", "token-1"]
    assert {t.value for t in again} == {"token-1"}
    assert all(0.8 < t.remaining <= 1.0 for t in again)


async def test_a_dead_issuer_holds_the_others_only_for_its_lease(redis_url: str) -> None:
    store = RedisTokenStore(redis_url, scope="s", lease=0.3, poll=0.01)
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.set(store.lock_key, "a process that died", px=300)

    async def issue() -> StoredToken:
        return StoredToken("after-the-lease", 100.0, 100.0)

    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        token = await store.obtain(issue, refused=None, refresh_margin=10)
        waited = loop.time() - started
    finally:
        await store.aclose()
        await client.aclose()
    assert token.value == "after-the-lease"
    assert 0.2 < waited < 2.0
    assert store.waited > 0


async def test_redis_down_without_a_token_fails_plainly(sim: Simulator) -> None:
    url = f"redis://fleet:hunter2-password@127.0.0.1:{free_port()}/0"
    tokens = manager(sim, url)
    try:
        with pytest.raises(FleetUnavailableError) as caught:
            await tokens.token()
    finally:
        await tokens.aclose()
    message = str(caught.value)
    assert "127.0.0.1" in message and "hunter2" not in message and "fleet:" not in message
    assert sim.stats.token_issues == 0  # no process falls back to issuing on its own


async def test_redis_down_with_a_valid_token_keeps_it(
    sim: Simulator, new_redis: Callable[..., RedisServer]
) -> None:
    server = new_redis()
    now = [time.time()]
    tokens = manager(sim, server.url, clock=lambda: now[0])
    try:
        token = await tokens.token()
        server.stop()
        now[0] += 23 * 3600  # due for refresh (10 min ahead of expiry), not yet expired
        assert await tokens.token() == token  # served while Redis is away
        assert sim.stats.token_issues == 1
    finally:
        await tokens.aclose()


async def test_key_names_carry_a_fingerprint_not_the_key(sim: Simulator, redis_url: str) -> None:
    tokens = manager(sim, redis_url)
    try:
        token = await tokens.token()
    finally:
        await tokens.aclose()
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        names = [name.decode() async for name in client.scan_iter()]
        stored = await client.hgetall(names[0]) if names else {}
    finally:
        await client.aclose()
    assert names == [f"kiwoom:{fleet_scope('mock', APPKEY)}:token"]
    for name in names:
        assert APPKEY not in name and SECRETKEY not in name and token not in name
    assert not any(SECRETKEY.encode() in v or APPKEY.encode() in v for v in stored.values())
    assert fleet_scope("mock", APPKEY) != fleet_scope("real", APPKEY)
